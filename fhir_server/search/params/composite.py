"""Composite search values (search.html#composite): `a$b`, each part compared with its component.

A composite entry stores its components in order under `k`; part i is compiled by the
component parameter's own type and its keys are moved under `k.<i>.`, so every part must
hold within the same entry (the same Observation.component, say).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import InvalidRequest
from ...i18n import _
from ..definitions import SearchParameterDef
from ..escaping import split_unescaped
from .number import all_of
from .token import invalid

ComponentResolver = Callable[[str], SearchParameterDef | None]
ComponentCondition = Callable[[SearchParameterDef, str], dict[str, Any]]


def nested(condition: dict[str, Any], prefix: str) -> dict[str, Any]:
    """`condition` on the sub-document at `prefix`: field names prefixed, `$or`/`$and` lists recursed into."""
    return {
        key if key.startswith("$") else prefix + key: (
            [nested(item, prefix) for item in value] if key.startswith("$") else value
        )
        for key, value in condition.items()
    }


def composite_condition(
    definition: SearchParameterDef,
    value: str,
    resolve_component: ComponentResolver | None,
    component_condition: ComponentCondition,
) -> dict[str, Any]:
    """The entry condition for `value`, one part per component; raises InvalidRequest naming the parameter."""
    parameter = definition.code
    parts = split_unescaped(value, "$")
    if len(parts) != len(definition.components):
        raise invalid(value, parameter, _("{count} parts separated by '$'").format(count=len(definition.components)))
    conditions: list[dict[str, Any]] = []
    for index, (component, part) in enumerate(zip(definition.components, parts, strict=True)):
        component_definition = resolve_component(component.definition) if resolve_component else None
        if component_definition is None:
            raise InvalidRequest(
                _("The composite parameter '{parameter}' is not supported: unknown component {url}.").format(
                    parameter=parameter, url=component.definition
                ),
                expression=parameter,
            )
        # The part keeps the composite's code so that errors name the parameter the client sent.
        part_definition = SearchParameterDef(
            parameter, component_definition.type, component_definition.url, None, definition.bases,
            targets=component_definition.targets,
        )  # fmt: skip
        conditions.append(nested(component_condition(part_definition, part), f"k.{index}."))
    return all_of(*conditions)
