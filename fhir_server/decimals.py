"""FHIR decimals as exact decimal numbers, and the range search can compare exactly.

R4 datatypes.html#decimal: the precision of a decimal is part of its value (`0.010` is not
`0.01`) and no IEEE binary float may stand in for it. A `FhirDecimal` is a `Decimal` that keeps
the characters it was written with, so `1.10`, `1.0e2` and `0.0000001` go back out as they came.

Search compares values inside the database as IEEE 754 decimal128 (MongoDB's Decimal128): 34
significant digits, exponents from -6143 to 6144. Validation refuses a decimal whose value needs
more (`fits_decimal128`); trailing zeros beyond 34 digits are fine, they change no value. Query
bounds that need more digits are rounded outward (`bound`), which keeps every comparison with a
stored value exact.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, DecimalException, Inexact, Overflow
from fractions import Fraction

__all__ = ["FhirDecimal", "bound", "fits_decimal128", "nearest_decimal128"]


class FhirDecimal(Decimal):
    """A decimal read from JSON (or built from text elsewhere, e.g. an HL7 NM value), with its text.

    Arithmetic gives a plain `Decimal`; `str()` gives the text, which is valid JSON number syntax.
    """

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> FhirDecimal:
        self = super().__new__(cls, text)
        self.text = text
        return self

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"FhirDecimal({self.text!r})"


def _decimal128(rounding: str, traps: list[type[DecimalException]]) -> Context:
    return Context(prec=34, Emin=-6143, Emax=6144, clamp=1, rounding=rounding, traps=traps)


_EXACT = _decimal128(ROUND_HALF_EVEN, [Inexact, Overflow])
_NEAREST = _decimal128(ROUND_HALF_EVEN, [])
_UP = _decimal128(ROUND_CEILING, [])
_DOWN = _decimal128(ROUND_FLOOR, [])


def fits_decimal128(value: Decimal | int) -> bool:
    """True when decimal128 holds `value` exactly (trailing zeros aside)."""
    try:
        _EXACT.create_decimal(value)
    except (Inexact, Overflow):
        return False
    return True


def nearest_decimal128(value: Decimal | int | Fraction) -> Decimal:
    """`value` as decimal128 holds it: itself when it fits (validated resources), else rounded half-even once."""
    if isinstance(value, Fraction):
        return _NEAREST.divide(Decimal(value.numerator), Decimal(value.denominator))
    return _NEAREST.create_decimal(value)


def bound(value: Decimal, up: bool) -> Decimal:
    """The decimal128 value next to `value`, rounding up (ceiling) or down (floor); `value` itself when it fits.

    For every stored x (a decimal128): x >= b iff x >= bound(b, up=True), x < b iff x < bound(b, up=True),
    x > b iff x > bound(b, up=False), x <= b iff x <= bound(b, up=False).
    """
    return (_UP if up else _DOWN).create_decimal(value)
