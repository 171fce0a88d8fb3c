"""FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html): a Parameters resource of operations.

fhirpathpy returns copies, so it cannot point at the node to change. Paths are therefore walked
here, keeping (owner, key, index) for every node; fhirpathpy only judges `where(...)` criteria
and the project's R4 model (`profiles`) tells lists, choice elements and child types.
Path steps: the resource type, `.element` (a choice by its base name), `[n]`, `.where(criteria)`,
`.first()`, `.last()`, `.extension('url')`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

from fhir_server.errors import InvalidRequest, Unprocessable
from fhir_server.i18n import _
from profiles.model import RESOURCE, TypeDef, model

_FHIRPATH_MODEL: dict[str, Any] = models["r4"]
_REQUIRED = {
    "add": ("path", "name", "value"),
    "insert": ("path", "value", "index"),
    "delete": ("path",),
    "replace": ("path", "value"),
    "move": ("path", "source", "destination"),
}
_PART_NAMES = frozenset({"type", "path", "name", "value", "index", "source", "destination"})
_KINDS = {str: "string", int: "integer"}
_STEP = re.compile(r"\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(\d+)\s*\])")


@dataclass
class _Node:
    """One element found by a path, with what is needed to change it in place."""

    value: Any
    definition: str  # its type in the R4 model, e.g. "HumanName", "Patient.contact"; "" for a primitive
    owner: dict[str, Any] | None = None  # None for the resource itself
    key: str = ""  # JSON property (a choice element's carries its type suffix)
    element: str = ""  # FHIRPath name used to reach it
    index: int | None = None
    parent: _Node | None = None


@dataclass
class _Value:
    """A `value` part: a value[x] (with its `_value[x]` primitive extension) or a list of sub-parts."""

    json: Any = None
    suffix: str = ""
    extension: Any = None
    parts: list[Any] | None = None


@dataclass
class _Operation:
    kind: str
    path: str
    steps: list[tuple[str, str]]
    where: str
    name: str = ""
    value: _Value = field(default_factory=lambda: _Value())
    index: int = 0
    source: int = 0
    destination: int = 0


def _invalid(message: str, where: str, **values: object) -> InvalidRequest:
    """400 for a malformed patch; `message` is already translated, `values` fill its fields."""
    return InvalidRequest(message.format(**values), expression=where)


def _unprocessable(message: str, where: str, **values: object) -> Unprocessable:
    """422 for a well-formed operation that does not fit the resource."""
    return Unprocessable(message.format(**values), expression=where)


def apply_fhirpath_patch(resource: dict[str, Any], parameters: Any) -> dict[str, Any]:
    """Apply the operations of a FHIRPath Patch Parameters in order to a deep copy of `resource`."""
    operations = _parse_parameters(parameters)
    patched = copy.deepcopy(resource)
    for operation in operations:
        _apply(patched, operation)
    return patched


def _parse_parameters(parameters: Any) -> list[_Operation]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise InvalidRequest(_("A FHIRPath Patch document must be a Parameters resource"))
    entries = parameters.get("parameter")
    if entries is None:
        return []  # the spec's "No Difference" case: an empty Parameters changes nothing
    if not isinstance(entries, list) or not entries:
        raise InvalidRequest(_("The FHIRPath Patch Parameters holds no operation"), expression="Parameters")
    return [_parse_operation(number, entry) for number, entry in enumerate(entries)]


def _parse_operation(number: int, entry: Any) -> _Operation:
    where = f"Parameters.parameter[{number}]"
    if not isinstance(entry, dict) or entry.get("name") != "operation" or not isinstance(entry.get("part"), list):
        raise InvalidRequest(_("Each parameter must be an 'operation' with parts"), expression=where)
    parts: dict[str, dict[str, Any]] = {}
    for part in entry["part"]:
        name = part.get("name") if isinstance(part, dict) else None
        if name not in _PART_NAMES or name in parts:
            raise _invalid(_("Unknown or repeated operation part '{name}'"), where, name=name)
        parts[name] = part
    kind = _scalar(parts, "type", str, where)
    if kind not in _REQUIRED:
        raise _invalid(_("Unknown FHIRPath Patch operation type '{type}'"), where, type=kind)
    for required in _REQUIRED[kind]:
        if required not in parts:
            raise _invalid(_("Operation '{type}' lacks the part '{part}'"), where, type=kind, part=required)
    path = _scalar(parts, "path", str, where)
    operation = _Operation(kind, path, _parse_path(path, where), where)
    if "value" in parts:
        operation.value = _value(parts["value"], where)
    if kind == "add":
        operation.name = _scalar(parts, "name", str, where)
    for number_part in ("index", "source", "destination"):
        if number_part in _REQUIRED[kind]:
            setattr(operation, number_part, _scalar(parts, number_part, int, where))
    return operation


def _scalar(parts: dict[str, dict[str, Any]], name: str, kind: type, where: str) -> Any:
    """The single value[x] of part `name`, which must be a string or an integer."""
    values = [v for k, v in parts.get(name, {}).items() if k.startswith("value")]
    if len(values) != 1 or not isinstance(values[0], kind) or isinstance(values[0], bool):
        raise _invalid(_("Part '{part}' must hold one {kind} value"), where, part=name, kind=_KINDS[kind])
    return values[0]


def _value(part: dict[str, Any], where: str) -> _Value:
    keys = [k for k in part if k.startswith("value")]
    if len(keys) == 1:
        return _Value(part[keys[0]], keys[0][len("value") :], part.get("_" + keys[0]))
    if not keys and isinstance(part.get("resource"), dict):
        return _Value(part["resource"])
    if not keys and isinstance(part.get("part"), list):
        return _Value(parts=part["part"])
    raise _invalid(_("Part '{part}' needs exactly one value[x], a resource or sub-parts"), where, part=part.get("name"))


def _parse_path(path: str, where: str) -> list[tuple[str, str]]:
    """Split a path into (kind, argument) steps; refuse FHIRPath that does not name resource content."""
    head = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)", path)
    if not head:
        raise _unsupported(path, where)
    steps, position, end = [("root", head.group(1))], head.end(), len(path.rstrip())
    while position < end:
        match = _STEP.match(path, position)
        if not match:
            raise _unsupported(path, where)
        position = match.end()
        name = match.group(1)
        if name is None:
            steps.append(("index", match.group(2)))
        elif path.startswith("(", position):
            close = _closing_parenthesis(path, position, where)
            argument, position = path[position + 1 : close].strip(), close + 1
            if name == "where" and argument:
                steps.append(("where", argument))
            elif name in ("first", "last") and not argument:
                steps.append((name, ""))
            elif name == "extension" and re.fullmatch(r"'[^'\\]*'", argument):
                steps += [("member", "extension"), ("where", f"url = {argument}")]
            else:
                raise _unsupported(path, where)
        else:
            steps.append(("member", name))
    return steps


def _unsupported(path: str, where: str) -> InvalidRequest:
    message = _("Unsupported FHIRPath Patch path '{path}': use elements, [n], where(), first(), last(), extension()")
    return _invalid(message, where, path=path)


def _closing_parenthesis(path: str, start: int, where: str) -> int:
    depth, quote, position = 0, "", start
    while position < len(path):
        char = path[position]
        if quote:
            position += char == "\\"
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char in "()":
            depth += 1 if char == "(" else -1
            if depth == 0:
                return position
        position += 1
    raise _invalid(_("Unbalanced parenthesis in path '{path}'"), where, path=path)


def _resolve(resource: dict[str, Any], steps: list[tuple[str, str]], where: str) -> list[_Node]:
    root_type = str(resource.get("resourceType", ""))
    nodes = [_Node(resource, root_type)]
    first = steps[0][1]
    if first[0].isupper() and first != root_type:
        return []
    for kind, argument in steps[1:] if first == root_type else [("member", first), *steps[1:]]:
        if kind == "member":
            nodes = [child for node in nodes for child in _children(node, argument)]
        elif kind == "index":
            nodes = nodes[int(argument) : int(argument) + 1]
        elif kind == "where":
            nodes = [node for node in nodes if _matches(node, argument, where)]
        else:
            nodes = nodes[:1] if kind == "first" else nodes[-1:]
    return nodes


def _children(node: _Node, name: str) -> list[_Node]:
    if not isinstance(node.value, dict):
        return []
    props = _props(node.definition)
    key = next((k for k in node.value if k == name or (k in props and props[k].choice == name and k[0] != "_")), None)
    if key is None:
        return []
    value = node.value[key]
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    return [
        _Node(item, _child_type(node.definition, key, item), node.value, key, name, index, node)
        for index, item in items
        if item is not None
    ]


def _props(definition: str) -> dict[str, Any]:
    type_def: TypeDef | None = model().types.get(definition)
    return type_def.props if type_def else {}


def _child_type(definition: str, key: str, value: Any) -> str:
    """The R4 model type holding the child's own elements ("" for a primitive or an unknown element)."""
    prop = _props(definition).get(key)
    if prop is not None and prop.kind == RESOURCE and isinstance(value, dict):
        return str(value.get("resourceType", ""))
    return prop.children.key if prop is not None and prop.children is not None else ""


def _matches(node: _Node, criteria: str, where: str) -> bool:
    try:
        expression = {"base": node.definition, "expression": criteria} if node.definition else criteria
        result = fhirpathpy.evaluate(node.value, expression, model=_FHIRPATH_MODEL)
    except Exception as error:
        raise _invalid(
            _("Cannot evaluate where({criteria}): {error}"), where, criteria=criteria, error=error
        ) from error
    return bool(result == [True])


def _single(nodes: list[_Node], operation: _Operation) -> _Node:
    if not nodes:
        raise _unprocessable(_("Path '{path}' matched no element"), operation.where, path=operation.path)
    if len(nodes) > 1:
        message = _("Path '{path}' matched {count} elements; '{type}' needs exactly one")
        raise _unprocessable(message, operation.where, path=operation.path, count=len(nodes), type=operation.kind)
    return nodes[0]


def _apply(resource: dict[str, Any], operation: _Operation) -> None:
    where, kind = operation.where, operation.kind
    if kind in ("insert", "move"):
        _apply_to_list(resource, operation)
        return
    nodes = _resolve(resource, operation.steps, where)
    if kind == "delete" and not nodes:
        return
    node = _single(nodes, operation)
    if kind == "add":
        if not isinstance(node.value, dict):
            raise _unprocessable(
                _("Path '{path}' is a primitive; nothing can be added to it"), where, path=operation.path
            )
        _place(node.value, node.definition, operation.name, operation.value, where)
        return
    if node.owner is None:
        raise _unprocessable(_("The resource itself cannot be deleted or replaced by a patch"), where)
    if kind == "delete":
        _remove(node)
        return
    suffix, owner = operation.value.suffix, node.owner
    key = node.element + suffix if node.key != node.element and suffix and node.index is None else node.key
    value = _materialize(operation.value, node.definition, where)
    extension, index = copy.deepcopy(operation.value.extension), node.index
    if index is None:
        owner.pop(node.key)
        owner.pop("_" + node.key, None)
        owner[key] = value
        if extension is not None:
            owner["_" + key] = extension
    else:
        _edit_list(owner, key, lambda pairs: pairs.__setitem__(index, (value, extension)))


def _apply_to_list(resource: dict[str, Any], operation: _Operation) -> None:
    """insert and move: the path names a list, whose owner must be exactly one element."""
    kind, argument = operation.steps[-1]
    if kind != "member" or len(operation.steps) < 2:
        message = _("Path '{path}' of '{type}' must end with a list element name")
        raise _invalid(message, operation.where, path=operation.path, type=operation.kind)
    parent = _single(_resolve(resource, operation.steps[:-1], operation.where), operation)
    items = parent.value.get(argument, []) if isinstance(parent.value, dict) else None
    if not isinstance(items, list):
        raise _unprocessable(_("Path '{path}' is not a list"), operation.where, path=operation.path)
    positions = [operation.index] if operation.kind == "insert" else [operation.source, operation.destination]
    limit = len(items) + 1 if operation.kind == "insert" else len(items)
    if any(not 0 <= position < limit for position in positions):
        message = _("Index out of range for '{path}', which has {count} items")
        raise _unprocessable(message, operation.where, path=operation.path, count=len(items))
    if operation.kind == "move":
        source, destination = operation.source, operation.destination
        _edit_list(parent.value, argument, lambda pairs: pairs.insert(destination, pairs.pop(source)))
        return
    definition = _child_type(parent.definition, argument, operation.value.json)
    slot = (_materialize(operation.value, definition, operation.where), operation.value.extension)
    _edit_list(parent.value, argument, lambda pairs: pairs.insert(operation.index, copy.deepcopy(slot)))


def _place(owner: dict[str, Any], definition: str, name: str, value: _Value, where: str) -> None:
    """Add child `name` to `owner`: appended to a list, or set when absent (FHIRPath Patch `add`)."""
    props = _props(definition)
    key = name + value.suffix if any(prop.choice == name for prop in props.values()) else name
    json = _materialize(value, _child_type(definition, key, value.json), where)
    extension = copy.deepcopy(value.extension)
    existing = owner.get(key)
    if isinstance(existing, list) or (existing is None and key in props and props[key].many):
        _edit_list(owner, key, lambda pairs: pairs.append((json, extension)))
    elif existing is None:
        owner[key] = json
        if extension is not None:
            owner["_" + key] = extension
    else:
        raise _unprocessable(_("Element '{name}' already has a value; use replace"), where, name=name)


def _materialize(value: _Value, definition: str, where: str) -> Any:
    """The JSON of a value part; a complex value given as sub-parts is assembled like successive adds."""
    if value.parts is None:
        return copy.deepcopy(value.json)
    built: dict[str, Any] = {}
    for part in value.parts:
        name = part.get("name") if isinstance(part, dict) else None
        if not isinstance(name, str) or not name:
            raise InvalidRequest(_("Every sub-part of a complex value needs a name"), expression=where)
        _place(built, definition, name, _value(part, where), where)
    return built


def _edit_list(owner: dict[str, Any], key: str, edit: Callable[[list[tuple[Any, Any]]], object]) -> None:
    """Edit list `key` and its `_key` primitive-extension twin together, so they stay aligned."""
    items, twin = owner.get(key) or [], owner.get("_" + key)
    extensions = twin if isinstance(twin, list) else []
    pairs = [(item, extensions[i] if i < len(extensions) else None) for i, item in enumerate(items)]
    edit(pairs)
    if pairs:
        owner[key] = [item for item, _extension in pairs]
    else:
        owner.pop(key, None)
    if any(extension is not None for _item, extension in pairs):
        owner["_" + key] = [extension for _item, extension in pairs]
    else:
        owner.pop("_" + key, None)


def _remove(node: _Node) -> None:
    """Delete a node with its `_x` twin; an element left empty is deleted too, as FHIR JSON has no `{}`."""
    owner = node.owner
    assert owner is not None
    index = node.index
    if index is None:
        owner.pop(node.key, None)
        owner.pop("_" + node.key, None)
    else:
        _edit_list(owner, node.key, lambda pairs: pairs.pop(index))
    if not owner and node.parent is not None and node.parent.owner is not None:
        _remove(node.parent)
