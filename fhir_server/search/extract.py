"""Write-time search indexing: a resource's index entries, sort keys and patient compartments.

Runs on every create/update, so each resource type's parameters are compiled once into a
plan (kept on the registry, dropped when a parameter is registered) and extraction is a walk
over plain dicts. Entry shapes are documented in `definitions.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice, product
from typing import Any

from .definitions import SearchParameterDef
from .fhirpath_paths import Accessor, compile_expression
from .keys import resource_keys
from .registry import ENGINE_PARAMETERS, SearchRegistry, default_registry
from .values import CONVERTERS, Converter, Entry

MAX_COMBINATIONS = 64
"""Composite entries per match: a bound on the cross product of the components' values."""

_SORT_KEYS = {"date": "lo", "string": "v", "token": "c", "number": "n", "quantity": "n", "reference": "r", "uri": "u"}


@dataclass
class IndexData:
    """What a resource version contributes to search: `idx` entries, their search `keys`, `sort` keys, compartments."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    sort: dict[str, Any] = field(default_factory=dict)
    compartments: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Component:
    expression: str
    convert: Converter
    targets: tuple[str, ...]


@dataclass(frozen=True)
class _Planned:
    code: str
    type: str
    accessor: Accessor
    convert: Converter | None
    targets: tuple[str, ...]
    components: tuple[_Component, ...]
    compartment: bool


@lru_cache(maxsize=4096)
def _relative(expression: str, resource_type: str, context: str) -> Accessor:
    """A composite component's expression, compiled for the type of the composite's match."""
    return compile_expression(expression, resource_type, context)


def _components(definition: SearchParameterDef, registry: SearchRegistry) -> tuple[_Component, ...] | None:
    out = []
    for component in definition.components:
        target = registry.by_url(component.definition)
        convert = CONVERTERS.get(target.type) if target else None
        if target is None or convert is None:
            return None  # a component that cannot be indexed makes the composite unsearchable
        out.append(_Component(component.expression, convert, target.targets))
    return tuple(out)


def plan(resource_type: str, registry: SearchRegistry) -> list[_Planned]:
    """The compiled extraction plan for one resource type (cached on the registry)."""
    cached: list[_Planned] | None = registry.plans.get(resource_type)
    if cached is not None:
        return cached
    members = set(registry.compartment_parameters(resource_type))
    planned = []
    for code, definition in registry.parameters_for(resource_type).items():
        if code in ENGINE_PARAMETERS or not definition.expression:
            continue
        components: tuple[_Component, ...] = ()
        if definition.type == "composite":
            found = _components(definition, registry)
            if not found:
                continue
            components = found
        elif definition.type not in CONVERTERS:
            continue  # special (Location near): not indexed
        accessor = compile_expression(definition.expression, resource_type)
        if not accessor.branches and not accessor.fallbacks:
            continue
        planned.append(
            _Planned(
                code,
                definition.type,
                accessor,
                CONVERTERS.get(definition.type),
                definition.targets,
                components,
                code in members and definition.type == "reference",
            )
        )
    registry.plans[resource_type] = planned
    return planned


def _composite(item: _Planned, resource: dict[str, Any]) -> list[Entry]:
    resource_type = resource["resourceType"]
    out: list[Entry] = []
    for node, node_type in item.accessor.evaluate(resource):
        parts: list[list[Entry]] = []
        for component in item.components:
            accessor = _relative(component.expression, resource_type, node_type)
            values = accessor.evaluate_from([(node, node_type)], resource)
            found = [e for value, fhir_type in values for e in component.convert(value, fhir_type, component.targets)]
            if not found:
                break
            parts.append(found)
        else:
            out += [{"p": item.code, "k": list(combo)} for combo in islice(product(*parts), MAX_COMBINATIONS)]
    return out


def extract_index(resource: dict[str, Any], registry: SearchRegistry | None = None) -> IndexData:
    """Index entries, search keys, sort keys and patient compartments of `resource` (a valid R4 resource dict)."""
    registry = registry or default_registry()
    resource_type = resource["resourceType"]
    data = IndexData()
    entries, sort, compartments = data.entries, data.sort, data.compartments
    if resource_type == "Patient" and isinstance(resource.get("id"), str):
        compartments.append(f"Patient/{resource['id']}")
    for item in plan(resource_type, registry):
        if item.convert is None:
            found = _composite(item, resource)
            entries += found
            continue
        code, convert, targets = item.code, item.convert, item.targets
        found = []
        for value, fhir_type in item.accessor.evaluate(resource):
            for entry in convert(value, fhir_type, targets):
                entry["p"] = code
                found.append(entry)
        if not found:
            continue
        entries += found
        key = _SORT_KEYS[item.type]
        if key == "lo":
            sort[code] = min(e["lo"] for e in found)
        else:
            first = next((e[key] for e in found if e.get(key) is not None), None)
            if first is not None:
                sort[code] = first
        if item.compartment:
            for entry in found:
                ref = entry.get("r")
                if ref is not None and ref.startswith("Patient/") and ref not in compartments:
                    compartments.append(ref)
    data.keys = resource_keys(resource_type, entries)
    return data
