"""Structural validation of FHIR R4 JSON resources against the core StructureDefinitions.

It runs on every create and update, so it is a single pass over the JSON with precomputed
tables (`profiles.model`): unknown elements, JSON shape, cardinality, primitive formats,
primitive extensions (`_name`), choice types and required bindings. FHIRPath invariants are
not evaluated in general; those that guard against hostile content are coded here: the rules
of contained resources (DomainResource dom-2 to dom-5, and an id on each), narrative XHTML
(txt-1, xhtml.py) and control characters in strings (primitives.py). dom-6 (should have a
narrative) is a warning and not reported. Expressions use JSON property names
(`Observation.valueQuantity.value`).
"""

from __future__ import annotations

from typing import Any

from fhir_server.errors import Issue
from fhir_server.i18n import _
from profiles.model import ELEMENT, PRIMITIVE, Model, Prop, TypeDef, model
from profiles.primitives import Problem

ERROR = "error"


def validate_resource(resource: Any) -> list[Issue]:
    """Every problem found in `resource` (parsed JSON of any shape); an empty list means valid R4."""
    if type(resource) is not dict:
        return [Issue(ERROR, "invalid", _("The content must be a JSON object holding a FHIR resource"), None)]
    issues: list[Issue] = []
    try:
        _resource(model(), resource, None, issues)
    except RecursionError:
        issues.append(Issue(ERROR, "too-costly", _("The resource is nested too deeply to be validated"), None))
    return issues


def is_known_type(name: str) -> bool:
    """Whether `name` is a concrete R4 resource type."""
    td = model().types.get(name)
    return td is not None and td.is_resource


def _resource(m: Model, obj: dict[str, Any], path: str | None, issues: list[Issue], inside: bool = False) -> None:
    """Check a resource; `path` is None at the top level, else where the resource sits; `inside`: it is
    a contained resource (whose own contained ones its container's dom-2 reports)."""
    rtype = obj.get("resourceType")
    if rtype is None:
        issues.append(Issue(ERROR, "invalid", _("The resource has no resourceType"), path))
        return
    td = m.types.get(rtype) if type(rtype) is str else None
    if td is None or not td.is_resource:
        msg = _("Unknown resourceType '{type}'").format(type=rtype)
        issues.append(Issue(ERROR, "invalid", msg, f"{path}.resourceType" if path else None))
        return
    _object(m, obj, td, path or rtype, issues)
    contained = obj.get("contained")
    if not inside and type(contained) is list:
        _contained(obj, contained, path or rtype, issues)


def _contained(container: dict[str, Any], contained: list[Any], path: str, issues: list[Issue]) -> None:
    """dom-2..dom-5 and a local id on each contained resource (R4 references.html#contained)."""
    local_refs: set[str] = set()
    _local_references(container, local_refs)
    for i, resource in enumerate(contained):
        if type(resource) is not dict:
            continue
        where = f"{path}.contained[{i}]"
        rid = resource.get("id")
        if rid is None:
            issues.append(Issue(ERROR, "required", _("A contained resource must have an id"), f"{where}.id"))
        elif f"#{rid}" not in local_refs and not _refers_to_container(resource):
            msg = _("A contained resource must be referenced from elsewhere in the resource or refer to it (dom-3)")
            issues.append(Issue(ERROR, "invariant", msg, where))
        if "contained" in resource:
            msg = _("A contained resource may not contain other resources (dom-2)")
            issues.append(Issue(ERROR, "invariant", msg, f"{where}.contained"))
        meta = resource.get("meta")
        if type(meta) is dict:
            for key in ("versionId", "lastUpdated"):
                if key in meta:
                    msg = _("A contained resource may not have meta.{name} (dom-4)").format(name=key)
                    issues.append(Issue(ERROR, "invariant", msg, f"{where}.meta.{key}"))
            if "security" in meta:
                msg = _("A contained resource may not have a security label (dom-5)")
                issues.append(Issue(ERROR, "invariant", msg, f"{where}.meta.security"))


def _local_references(value: Any, found: set[str]) -> None:
    """Every string starting with '#' in `value`: the local references a contained resource may be named by."""
    if type(value) is str:
        if value.startswith("#"):
            found.add(value)
    elif type(value) is dict:
        for item in value.values():
            _local_references(item, found)
    elif type(value) is list:
        for item in value:
            _local_references(item, found)


def _refers_to_container(resource: dict[str, Any]) -> bool:
    """Whether a contained resource holds a reference '#' (to the resource that contains it)."""
    found: set[str] = set()
    _local_references(resource, found)
    return "#" in found


def _object(m: Model, obj: dict[str, Any], td: TypeDef, path: str, issues: list[Issue]) -> None:
    props = td.props
    choices: dict[str, str] | None = None
    for key, value in obj.items():
        prop = props.get(key)
        if prop is None:
            if key != "resourceType" or not td.is_resource:
                issues.append(
                    Issue(ERROR, "structure", _("Unknown element '{name}'").format(name=key), f"{path}.{key}")
                )
            continue
        if prop.choice is not None:
            if choices is None:
                choices = {}
            first = choices.setdefault(prop.choice, prop.name)
            if first != prop.name:
                msg = _("Only one of '{first}' and '{name}' may be present").format(first=first, name=prop.name)
                issues.append(Issue(ERROR, "structure", msg, f"{path}.{prop.name}"))
        check = prop.check
        if check is not None and not prop.many:  # hot path: a single primitive, no path string unless wrong
            if (problem := check(value)) is not None or (prop.codes is not None and value not in prop.codes):
                _primitive_issue(prop, value, problem, f"{path}.{prop.name}", issues)
        elif value is None:
            msg = _("Element '{name}' must not be null").format(name=key)
            issues.append(Issue(ERROR, "structure", msg, f"{path}.{prop.name}"))
        elif not prop.many:
            if type(value) is list:
                msg = _("Element '{name}' must be a single value, not an array").format(name=key)
                issues.append(Issue(ERROR, "structure", msg, f"{path}.{prop.name}"))
            else:
                _complex(m, prop, value, f"{path}.{prop.name}", issues)
        elif type(value) is not list:
            msg = _("Element '{name}' must be an array").format(name=key)
            issues.append(Issue(ERROR, "structure", msg, f"{path}.{prop.name}"))
        elif not value:
            msg = _("Element '{name}' must not be an empty array").format(name=key)
            issues.append(Issue(ERROR, "structure", msg, f"{path}.{prop.name}"))
        else:
            _array(m, prop, key, value, obj, f"{path}.{prop.name}", issues)
    for name, json_names in td.required:
        for json_name in json_names:
            if json_name in obj:
                break
        else:
            msg = _("Missing required element '{name}'").format(name=name)
            issues.append(Issue(ERROR, "required", msg, f"{path}.{name}"))


def _array(
    m: Model, prop: Prop, key: str, items: list[Any], obj: dict[str, Any], path: str, issues: list[Issue]
) -> None:
    partner: Any = None
    if prop.kind == PRIMITIVE or prop.kind == ELEMENT:
        # `given` and `_given` line up by index; a null is only a placeholder for the other's entry.
        partner = obj.get("_" + key if prop.kind == PRIMITIVE else key[1:])
        if type(partner) is not list:
            partner = None
        elif prop.kind == ELEMENT and len(partner) != len(items):
            msg = _("Arrays '{name}' and '{other}' must have the same length").format(name=key, other=key[1:])
            issues.append(Issue(ERROR, "structure", msg, path))
    check = prop.check
    for i, item in enumerate(items):
        if item is None:
            if partner is None or i >= len(partner) or partner[i] is None:
                msg = _("Element '{name}' has a null entry without a matching value").format(name=key)
                issues.append(Issue(ERROR, "structure", msg, f"{path}[{i}]"))
        elif check is None:
            _complex(m, prop, item, f"{path}[{i}]", issues)
        elif (problem := check(item)) is not None or (prop.codes is not None and item not in prop.codes):
            _primitive_issue(prop, item, problem, f"{path}[{i}]", issues)


def _primitive_issue(prop: Prop, value: Any, problem: Problem, path: str, issues: list[Issue]) -> None:
    if value is None:
        issues.append(Issue(ERROR, "structure", _("Element '{name}' must not be null").format(name=prop.name), path))
    elif type(value) is list:
        msg = _("Element '{name}' must be a single value, not an array").format(name=prop.name)
        issues.append(Issue(ERROR, "structure", msg, path))
    elif problem is not None:
        issues.append(Issue(ERROR, problem[0], problem[1]().format(type=prop.type), path))
    else:
        msg = _("Code '{code}' is not in the required value set for '{name}'").format(code=value, name=prop.name)
        issues.append(Issue(ERROR, "code-invalid", msg, path))


def _complex(m: Model, prop: Prop, value: Any, path: str, issues: list[Issue]) -> None:
    """A datatype, backbone element, `_primitive` object or inline resource."""
    if type(value) is not dict:
        msg = _("Element '{name}' must be a JSON object").format(name=prop.name)
        issues.append(Issue(ERROR, "structure", msg, path))
    elif not value:
        msg = _("Element '{name}' must not be an empty object").format(name=prop.name)
        issues.append(Issue(ERROR, "structure", msg, path))
    elif prop.children is None:  # a contained/inline resource
        _resource(m, value, path, issues, inside=prop.name == "contained")
    else:
        _object(m, value, prop.children, path, issues)
        if prop.systems:
            _codings(prop, value, path, issues)


def _codings(prop: Prop, value: dict[str, Any], path: str, issues: list[Issue]) -> None:
    """Required binding on Coding/CodeableConcept: only codings from the value set's own systems are judged."""
    codes = prop.codes
    if codes is None:
        return
    if prop.type == "Coding":
        found = [(value, path)]
    else:
        codings = value.get("coding")
        if type(codings) is not list:
            return
        found = [(c, f"{path}.coding[{i}]") for i, c in enumerate(codings) if type(c) is dict]
    for coding, where in found:
        code, system = coding.get("code"), coding.get("system")
        if type(system) is str and system in prop.systems and type(code) is str and code not in codes:
            msg = _("Code '{code}' is not in the required value set for '{name}'").format(code=code, name=prop.name)
            issues.append(Issue(ERROR, "code-invalid", msg, f"{where}.code"))
