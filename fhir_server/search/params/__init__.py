"""Compile one search parameter occurrence into a MongoDB filter over the `idx` entries.

Each value becomes a condition on one entry (`$elemMatch` with the parameter code `p`,
which search/plan.py turns into a condition on the search keys); values are OR'ed and the
caller ANDs repeated occurrences. Empty values are ignored (search.html#errors).
Modifiers (search.html#modifiers) are checked against the parameter type; `:missing`
applies to every type.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...errors import InvalidRequest
from ...i18n import _
from ..definitions import SearchParameterDef
from .composite import ComponentResolver, composite_condition
from .date import date_condition
from .number import number_condition, parse_number, split_comparison
from .quantity import quantity_condition
from .reference import is_type_modifier, reference_condition
from .string import string_condition
from .token import ValueSetCodes, in_condition, of_type_condition, text_condition, token_condition
from .uri import uri_condition

__all__ = ["ComponentResolver", "ValueSetCodes", "compile_parameter"]

MODIFIERS: dict[str, tuple[str, ...]] = {
    "string": ("exact", "contains"),
    "token": ("text", "not", "in", "not-in", "of-type"),
    "reference": ("identifier",),
    "uri": ("above", "below"),
}
"""Modifiers supported per type, besides `:missing` and a reference's `:[type]`."""

UNSUPPORTED: dict[str, tuple[str, ...]] = {"token": ("above", "below"), "reference": ("above", "below")}
"""Valid R4 modifiers refused for now: subsumption needs terminology, canonical hierarchies a version order."""


@dataclass(frozen=True)
class _Context:
    now: datetime
    value_set_codes: ValueSetCodes | None
    resolve_component: ComponentResolver | None
    base_url: str | None


def compile_parameter(
    definition: SearchParameterDef,
    modifier: str | None,
    values: tuple[str, ...],
    *,
    now: datetime,
    value_set_codes: ValueSetCodes | None = None,
    resolve_component: ComponentResolver | None = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """The filter for `definition[:modifier]=v1,v2,...`; raises InvalidRequest naming the parameter."""
    code = definition.code
    if modifier != "missing":
        _check_modifier(definition, modifier)  # even without values: an unsupported modifier is never ignored
    present = [value for value in values if value]
    if not present:
        return {}
    if modifier == "missing":
        return _missing(code, present)
    context = _Context(now, value_set_codes, resolve_component, base_url)
    if modifier in ("not", "not-in"):  # no entry matches: includes resources without the element
        positive = "in" if modifier == "not-in" else None
        return {"$nor": [_match(code, _condition(definition, positive, value, context)) for value in present]}
    conditions = [_condition(definition, modifier, value, context) for value in present]
    if (either := _one_of(conditions)) is not None:
        return _match(code, either)
    return {"$or": [_match(code, condition) for condition in conditions]}


def _match(code: str, condition: dict[str, Any]) -> dict[str, Any]:
    return {"idx": {"$elemMatch": {"p": code, **condition}}}


def _one_of(conditions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One entry condition standing for `conditions` ORed, when they differ only in the text of one key
    (`status=booked,pending`: `c` is one of both); else None.

    Exact: each alternative asks for one entry of the same array, so "an entry with c = a, or an entry
    with c = b" is "an entry with c in [a, b]". One `$elemMatch` instead of an `$or` of them keeps the
    filter free of `$or`, with which SecantusDB scans the whole collection even when the candidates are
    known by key (see storage/filters.py)."""
    first = conditions[0]
    if len(conditions) == 1:
        return first
    if any(condition.keys() != first.keys() for condition in conditions):
        return None
    differing = [key for key in first if any(condition[key] != first[key] for condition in conditions)]
    if not differing:
        return first
    if len(differing) != 1 or not all(isinstance(condition[differing[0]], str) for condition in conditions):
        return None
    values = list(dict.fromkeys(condition[differing[0]] for condition in conditions))
    return {**first, differing[0]: {"$in": values}}


def _missing(code: str, values: list[str]) -> dict[str, Any]:
    """`:missing=true`: no entry for the parameter; `false`: at least one."""
    if any(value not in ("true", "false") for value in values):
        raise InvalidRequest(
            _("The modifier ':missing' of parameter '{parameter}' takes 'true' or 'false'.").format(parameter=code),
            expression=code,
        )
    if len(set(values)) > 1:
        return {}
    return {"idx.p": {"$ne": code}} if values[0] == "true" else {"idx.p": code}


def _check_modifier(definition: SearchParameterDef, modifier: str | None) -> None:
    kind, code = definition.type, definition.code
    if kind == "special":
        raise InvalidRequest(
            _("Searching by the special parameter '{parameter}' is not supported.").format(parameter=code),
            expression=code,
        )
    if modifier is None or modifier in MODIFIERS.get(kind, ()):
        return
    if kind == "reference" and is_type_modifier(modifier):
        if definition.targets and modifier not in definition.targets:
            raise InvalidRequest(
                _("Parameter '{parameter}' cannot refer to a {type}; allowed: {targets}.").format(
                    parameter=code, type=modifier, targets=", ".join(definition.targets)
                ),
                expression=code,
            )
        return
    if modifier in UNSUPPORTED.get(kind, ()):
        message = _("The modifier ':{modifier}' is not supported for parameter '{parameter}'.")
    else:
        message = _("The modifier ':{modifier}' is not valid for parameter '{parameter}' of type {type}.")
    raise InvalidRequest(message.format(modifier=modifier[:40], parameter=code, type=kind), expression=code)


def _condition(definition: SearchParameterDef, modifier: str | None, value: str, context: _Context) -> dict[str, Any]:
    """The condition one entry must meet for `value` (without `p`)."""
    kind, code = definition.type, definition.code
    if kind == "token":
        if modifier == "text":
            return text_condition(value, code)
        if modifier == "of-type":
            return of_type_condition(value, code)
        if modifier == "in":
            return in_condition(value, code, context.value_set_codes)
        return token_condition(value, code)
    if kind == "string":
        return string_condition(value, modifier, code)
    if kind == "date":
        return date_condition(value, code, context.now)
    if kind == "number":
        prefix, text = split_comparison(value, code)
        return number_condition(parse_number(text, prefix, code))
    if kind == "quantity":
        return quantity_condition(value, code)
    if kind == "reference":
        return reference_condition(value, code, modifier, definition.targets, context.base_url)
    if kind == "uri":
        return uri_condition(value, modifier, code)
    if kind == "composite":
        return composite_condition(
            definition,
            value,
            context.resolve_component,
            lambda part_definition, part: _condition(part_definition, None, part, context),
        )
    raise InvalidRequest(
        _("Parameter '{parameter}' has the unknown type '{type}'.").format(parameter=code, type=kind), expression=code
    )
