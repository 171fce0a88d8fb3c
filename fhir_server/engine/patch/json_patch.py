"""RFC 6902 JSON Patch over a FHIR resource, with RFC 6901 pointers.

Kept in-house (no `jsonpatch` dependency) so every failure maps onto the server's own
errors: a malformed patch document is `InvalidRequest` (400), a well-formed patch that
does not fit the resource is `Unprocessable` (422).
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from typing import Any

from fhir_server.errors import InvalidRequest, Unprocessable
from fhir_server.i18n import _

_OPS: dict[str, tuple[str, ...]] = {
    "add": ("value",), "remove": (), "replace": ("value",), "move": ("from",), "copy": ("from",), "test": ("value",)
}  # fmt: skip
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


def apply_json_patch(resource: dict[str, Any], operations: Any) -> dict[str, Any]:
    """Apply `operations` to a deep copy of `resource`; the input is never touched, even on failure."""
    if not isinstance(operations, list):
        raise InvalidRequest(_("A JSON Patch document must be a JSON array of operations"))
    parsed = [_parse_operation(number, operation) for number, operation in enumerate(operations)]
    document: Any = copy.deepcopy(resource)
    for number, (op, path, operation) in enumerate(parsed):
        document = _apply(document, number, op, path, operation)
    if not isinstance(document, dict):
        raise Unprocessable(_("The patched document is not a JSON object"))
    return document


def _parse_operation(number: int, operation: Any) -> tuple[str, list[str], dict[str, Any]]:
    """Check one operation object up front, so a malformed patch fails before anything is applied."""
    if not isinstance(operation, dict):
        raise InvalidRequest(_("JSON Patch operation {number} is not a JSON object").format(number=number))
    op = operation.get("op")
    if op not in _OPS:
        raise InvalidRequest(_("JSON Patch operation {number} has unknown op '{op}'").format(number=number, op=op))
    for member in ("path", *_OPS[op]):
        if member not in operation:
            raise InvalidRequest(
                _("JSON Patch operation {number} ({op}) lacks the member '{member}'").format(
                    number=number, op=op, member=member
                )
            )
    path = _parse_pointer(number, operation["path"])
    if op == "move":
        source = _parse_pointer(number, operation["from"])
        if len(source) < len(path) and path[: len(source)] == source:
            raise InvalidRequest(
                _("JSON Patch operation {number} moves '{source}' into its own child '{path}'").format(
                    number=number, source=operation["from"], path=operation["path"]
                )
            )
    elif op == "copy":
        _parse_pointer(number, operation["from"])
    return op, path, operation


def _parse_pointer(number: int, pointer: Any) -> list[str]:
    """Split an RFC 6901 pointer into unescaped reference tokens ('' is the whole document)."""
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise InvalidRequest(
            _("JSON Patch operation {number}: '{pointer}' is not a JSON pointer").format(number=number, pointer=pointer)
        )
    tokens = pointer.split("/")[1:]
    for token in tokens:
        if re.search(r"~(?![01])", token):
            raise InvalidRequest(
                _("JSON Patch operation {number}: bad '~' escape in pointer '{pointer}'").format(
                    number=number, pointer=pointer
                )
            )
    return [token.replace("~1", "/").replace("~0", "~") for token in tokens]


def _apply(document: Any, number: int, op: str, path: list[str], operation: dict[str, Any]) -> Any:
    """Apply one checked operation and return the (possibly replaced) document."""
    where = operation["path"]
    if op == "test":
        if not _json_equal(_get(document, path, number, where), operation["value"]):
            raise Unprocessable(
                _("JSON Patch operation {number}: test failed, the value at '{path}' differs").format(
                    number=number, path=where
                )
            )
        return document
    if op == "add":
        return _add(document, path, copy.deepcopy(operation["value"]), number, where)
    if op == "remove":
        _remove(document, path, number, where)
        return document
    if op == "replace":
        _get(document, path, number, where)
        if not path:
            return copy.deepcopy(operation["value"])
        _remove(document, path, number, where)
        return _add(document, path, copy.deepcopy(operation["value"]), number, where)
    source, source_path = _parse_pointer(number, operation["from"]), operation["from"]
    value = _get(document, source, number, source_path)
    if op == "move":
        if source == path:
            return document
        _remove(document, source, number, source_path)
    return _add(document, path, copy.deepcopy(value), number, where)


def _get(document: Any, path: list[str], number: int, where: str) -> Any:
    """The value a pointer refers to; 422 when it refers to nothing."""
    node = document
    for token in path:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and _ARRAY_INDEX.fullmatch(token) and int(token) < len(node):
            node = node[int(token)]
        else:
            raise Unprocessable(
                _("JSON Patch operation {number}: path '{path}' does not exist").format(number=number, path=where)
            )
    return node


def _add(document: Any, path: list[str], value: Any, number: int, where: str) -> Any:
    """RFC 6902 add: set an object member, or insert into an array (`-` appends)."""
    if not path:
        return value
    parent, token = _get(document, path[:-1], number, where), path[-1]
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        if token == "-":
            parent.append(value)
        elif _ARRAY_INDEX.fullmatch(token) and int(token) <= len(parent):
            parent.insert(int(token), value)
        else:
            raise Unprocessable(
                _("JSON Patch operation {number}: array index '{token}' in '{path}' is out of range").format(
                    number=number, token=token, path=where
                )
            )
    else:
        raise Unprocessable(
            _("JSON Patch operation {number}: the parent of '{path}' is not an object or array").format(
                number=number, path=where
            )
        )
    return document


def _remove(document: Any, path: list[str], number: int, where: str) -> None:
    """RFC 6902 remove: the target must exist; the whole resource cannot be removed."""
    if not path:
        raise Unprocessable(
            _("JSON Patch operation {number}: the whole resource cannot be removed").format(number=number)
        )
    parent = _get(document, path[:-1], number, where)
    _get(parent, path[-1:], number, where)
    del parent[int(path[-1]) if isinstance(parent, list) else path[-1]]


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality as RFC 6902 `test` defines it: booleans are not numbers, numbers equal by value (1 = 1.0)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float | Decimal) and isinstance(right, int | float | Decimal):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    return type(left) is type(right) and left == right
