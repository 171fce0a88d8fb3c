"""decimals: what decimal128 holds, and query bounds rounded so that comparisons with stored values stay exact."""

from __future__ import annotations

import random
from decimal import Context, Decimal
from fractions import Fraction

import pytest

from fhir_server.decimals import bound, fits_decimal128, nearest_decimal128

DECIMAL128 = Context(prec=34, Emin=-6143, Emax=6144, clamp=1)


@pytest.mark.parametrize(
    ("value", "fits"),
    [
        ("1234567890.123456789012345678901234", True),  # 34 significant digits
        ("1234567890.1234567890123456789012345", False),  # 35
        ("1.0000000000000000000000000000000000000000", True),  # trailing zeros change no value
        ("1E+6144", True),
        ("1E+6145", False),
        ("9.999999999999999999999999999999999E+6144", True),
        ("1E-6176", True),  # the smallest subnormal
        ("1E-6177", False),
        ("-0.0", True),
    ],
)
def test_fits_decimal128(value: str, fits: bool) -> None:
    assert fits_decimal128(Decimal(value)) is fits


def test_nearest_rounds_fractions_once() -> None:
    assert nearest_decimal128(Fraction(1, 60)) == Decimal("0.01666666666666666666666666666666667")
    assert nearest_decimal128(Fraction(6, 360)) == nearest_decimal128(Fraction(1, 60))
    assert nearest_decimal128(Decimal("0.1000000000000000055")) == Decimal("0.1000000000000000055")


def test_bounds_admit_exactly_the_same_stored_values() -> None:
    """For stored x (34 digits) and any bound b: x >= b iff x >= bound(b, up), x <= b iff x <= bound(b, down)."""
    rng = random.Random(11)
    for _ in range(2000):
        digits = "".join(rng.choice("0123456789") for _ in range(36))
        b = Decimal(f"{rng.choice('-+')}{digits[0]}.{digits[1:]}E{rng.randint(-5, 5)}")
        for x in (bound(b, up=True), bound(b, up=False), nearest_decimal128(b)):
            for stored in (x, x.next_plus(DECIMAL128), x.next_minus(DECIMAL128)):
                assert (stored >= b) == (stored >= bound(b, up=True))
                assert (stored < b) == (stored < bound(b, up=True))
                assert (stored > b) == (stored > bound(b, up=False))
                assert (stored <= b) == (stored <= bound(b, up=False))
