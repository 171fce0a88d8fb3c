"""Quantity search values (search.html#quantity): `[prefix]number[|system|code]` and `number||code`.

With a UCUM system and a unit `canonicalize` understands, the search compares the canonical
value `cn` in canonical unit `cc`, so `5.4|http://unitsofmeasure.org|mg/dL` finds `54 mg/L`.
Otherwise it compares `n` with the system and code as written; `number||code` matches the
code or the unit text in any system. Canonical values are rounded once to decimal128 on both
sides (`ucum.scale`), so a quantity equal to the search value in other units stays equal.
"""

from __future__ import annotations

from typing import Any

from ...i18n import _
from ..escaping import split_escaped
from ..ucum import scale, unit_factor
from .number import all_of, number_condition, parse_number, split_comparison
from .token import invalid

UCUM = "http://unitsofmeasure.org"


def quantity_condition(value: str, parameter: str) -> dict[str, Any]:
    """The entry condition for a quantity value; raises InvalidRequest naming `parameter`."""
    prefix, text = split_comparison(value, parameter)
    parts = split_escaped(text, "|")
    if len(parts) not in (1, 3):
        raise invalid(value, parameter, _("'[prefix]number', 'number|system|code' or 'number||code'"))
    search = parse_number(parts[0], prefix, parameter)
    if len(parts) == 1:
        return number_condition(search)
    system, code = parts[1], parts[2]
    canonical = unit_factor(code) if system == UCUM and code else None
    if canonical is not None:
        factor, canonical_code = canonical
        converted = search.scaled(lambda number: scale(number, factor))
        return all_of({"cc": canonical_code}, number_condition(converted, "cn"))
    units: dict[str, Any] = {}
    if system:
        units["s"] = system
        if code:
            units["c"] = code
    elif code:
        units["$or"] = [{"c": code}, {"u": code}]
    return all_of(units, number_condition(search))
