"""Number search values (search.html#number) and the comparison prefixes shared with quantity.

A search value carries an implicit precision: `100` means [99.5, 100.5), `100.00` means
[99.995, 100.005) and `1e2` means [50, 150). `eq`/`ne` use that range; `gt`/`lt`/`ge`/`le`
compare with the exact value (the spec's table says "greater than exactly 100"); `sa`/`eb`
coincide with `gt`/`lt` since the stored value `n` is a point; `ap` allows 10% of the value
(or the implicit precision, whichever is wider).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...errors import InvalidRequest
from ...i18n import _
from ..dates import split_prefix
from .token import invalid

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_LOOKS_PREFIXED = re.compile(r"[a-z]{2}(?=[-+.\d])")


def split_comparison(value: str, parameter: str) -> tuple[str, str]:
    """Split the prefix off a date, number or quantity value; an unknown two-letter prefix is an error."""
    prefix, rest = split_prefix(value)
    if prefix == "eq" and not value.startswith("eq") and _LOOKS_PREFIXED.match(value):
        raise InvalidRequest(
            _("Unknown prefix '{prefix}' in parameter '{parameter}': use eq, ne, gt, lt, ge, le, sa, eb or ap.").format(
                prefix=value[:2], parameter=parameter
            ),
            expression=parameter,
        )
    return prefix, rest


@dataclass(frozen=True)
class NumberSearch:
    """A prefixed search number: its exact value and the [low, high) range its precision implies."""

    prefix: str
    value: float
    low: float
    high: float

    def scaled(self, convert: Callable[[float], float]) -> NumberSearch:
        """The same search in other units (`convert` must be increasing and linear, as UCUM factors are)."""
        return NumberSearch(self.prefix, convert(self.value), convert(self.low), convert(self.high))


def parse_number(text: str, prefix: str, parameter: str) -> NumberSearch:
    """Parse a decimal search value into its exact value and implicit precision range."""
    if not _NUMBER.fullmatch(text):
        raise invalid(text, parameter, _("a number"))
    number = Decimal(text)  # the pattern admits only valid decimals
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite by the pattern
    half = Decimal(5).scaleb(exponent - 1)
    if prefix == "ap":
        half = max(half, abs(number) / 10)
    return NumberSearch(prefix, float(number), float(number - half), float(number + half))


def number_condition(search: NumberSearch, key: str = "n") -> dict[str, Any]:
    """The entry condition on the stored point `key`."""
    prefix = search.prefix
    if prefix in ("eq", "ap"):
        upper = "$lt" if prefix == "eq" else "$lte"
        return {key: {"$gte": search.low, upper: search.high}}
    if prefix == "ne":
        return {"$or": [{key: {"$lt": search.low}}, {key: {"$gte": search.high}}]}
    operator = {"gt": "$gt", "sa": "$gt", "lt": "$lt", "eb": "$lt", "ge": "$gte", "le": "$lte"}[prefix]
    return {key: {operator: search.value}}


def all_of(*conditions: dict[str, Any]) -> dict[str, Any]:
    """Merge entry conditions; ones whose keys collide (two `$or`s) go under `$and`."""
    merged: dict[str, Any] = {}
    rest: list[dict[str, Any]] = []
    for condition in conditions:
        if merged.keys() & condition.keys():
            rest.append(condition)
        else:
            merged.update(condition)
    if rest:
        merged.setdefault("$and", []).extend(rest)
    return merged
