"""Number search values (search.html#number) and the comparison prefixes shared with quantity.

A search value carries an implicit precision: `100` means [99.5, 100.5), `100.00` means
[99.995, 100.005) and `1e2` means [50, 150). `eq`/`ne` use that range; `gt`/`lt`/`ge`/`le`
compare with the exact value (the spec's table says "greater than exactly 100"); `sa`/`eb`
coincide with `gt`/`lt` since the stored value `n` is a point; `ap` allows 10% of the value
(or the implicit precision, whichever is wider). Everything is decimal arithmetic: no binary
float rounds a bound, so `1.10` finds 1.095 and not 1.105.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from ...decimals import bound, fits_decimal128
from ...errors import InvalidRequest
from ...i18n import _
from ..dates import split_prefix
from .token import invalid

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_LOOKS_PREFIXED = re.compile(r"[a-z]{2}(?=[-+.\d])")
_EXACT = Context(prec=40)
"""Enough digits for a 34-digit value plus or minus half its last digit (or a tenth of itself): no rounding."""


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
    value: Decimal
    low: Decimal
    high: Decimal

    def scaled(self, convert: Callable[[Decimal], Decimal]) -> NumberSearch:
        """The same search in other units (`convert` must be increasing and linear, as UCUM factors are)."""
        return NumberSearch(self.prefix, convert(self.value), convert(self.low), convert(self.high))


def parse_number(text: str, prefix: str, parameter: str) -> NumberSearch:
    """Parse a decimal search value into its exact value and implicit precision range.

    The value may have up to 34 significant digits, as stored values do (decimal128).
    """
    if not _NUMBER.fullmatch(text):
        raise invalid(text, parameter, _("a number"))
    number = Decimal(text)  # the pattern admits only valid decimals
    if not fits_decimal128(number):
        raise invalid(text, parameter, _("a number of at most 34 significant digits"))
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite by the pattern
    half = Decimal(5).scaleb(exponent - 1)
    if prefix == "ap":
        half = max(half, _EXACT.divide(abs(number), 10))
    return NumberSearch(prefix, number, _EXACT.subtract(number, half), _EXACT.add(number, half))


def number_condition(search: NumberSearch, key: str = "n") -> dict[str, Any]:
    """The entry condition on the stored point `key`.

    Stored points are decimal128 values; a bound needing more digits (the range of a 34-digit value) is
    rounded outward, to the nearest decimal128 that admits exactly the same points.
    """
    prefix = search.prefix
    if prefix == "eq":
        return {key: {"$gte": bound(search.low, up=True), "$lt": bound(search.high, up=True)}}
    if prefix == "ap":
        return {key: {"$gte": bound(search.low, up=True), "$lte": bound(search.high, up=False)}}
    if prefix == "ne":
        return {"$or": [{key: {"$lt": bound(search.low, up=True)}}, {key: {"$gte": bound(search.high, up=True)}}]}
    operator = {"gt": "$gt", "sa": "$gt", "lt": "$lt", "eb": "$lt", "ge": "$gte", "le": "$lte"}[prefix]
    return {key: {operator: bound(search.value, up=operator in ("$gte", "$lt"))}}


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
