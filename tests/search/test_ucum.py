"""UCUM canonicalization: units that measure the same thing must reduce to the same canonical form."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_server.search.ucum import scale, unit_factor


def canonicalize(value: Decimal | int, code: str) -> tuple[Decimal, str] | None:
    found = unit_factor(code)
    return None if found is None else (scale(value, found[0]), found[1])


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ((100, "mg/dL"), (1, "g/L")),
        ((1, "mmol/L"), (1, "umol/mL")),
        ((1, "kg"), (Decimal("2.2046226218487757"), "[lb_av]")),
        ((Decimal("2.54"), "cm"), (1, "[in_i]")),
        ((60, "/min"), (1, "/s")),
        ((1, "10*3/uL"), (1, "10*9/L")),
        ((50, "%"), (Decimal("0.5"), "1")),
        ((1, "{cells}/uL"), (1, "/uL")),
        ((1, "mg.dL-1"), (1, "mg/dL")),
        ((1, "kg/m2"), (10, "g/(dm2)")),
        ((1, "10^3"), (1000, "1")),
        ((1000, "mL"), (1, "L")),
        ((1, "h"), (3600, "s")),
    ],
)
def test_equivalent_units_share_canonical_form(left: tuple[Decimal, str], right: tuple[Decimal, str]) -> None:
    a, b = canonicalize(*left), canonicalize(*right)
    assert a is not None and b is not None
    assert a[1] == b[1]
    assert a[0] == pytest.approx(b[0], rel=Decimal("1e-9"))


def test_canonical_values() -> None:
    assert canonicalize(100, "mg/dL") == (1000.0, "g.m-3")
    assert canonicalize(120, "mm[Hg]") == (15998640.0, "g.m-1.s-2")
    assert canonicalize(5, "[iU]/L") == (5000.0, "[iU].m-3")


def test_canonical_values_are_exact_decimals() -> None:
    """Factors are exact fractions, rounded once: 1.10 mg/dL is 11.0 g/m3, not 11.000000000000002."""
    assert canonicalize(Decimal("1.10"), "mg/dL") == (Decimal("11.0"), "g.m-3")
    assert canonicalize(Decimal("0.1000000000000000055"), "g") == (Decimal("0.1000000000000000055"), "g")
    assert canonicalize(1, "/min") == canonicalize(60, "/h") == canonicalize(1440, "/d")
    assert canonicalize(Decimal("2.54"), "cm") == canonicalize(1, "[in_i]")


def test_absurd_codes_are_not_converted() -> None:
    """Exact factors grow with the code: long codes and huge exponents are refused, not computed."""
    assert canonicalize(1, "10*100") is None
    assert canonicalize(1, ".".join(["m"] * 40)) is None


def test_different_dimensions_differ() -> None:
    mass, volume = canonicalize(1, "g"), canonicalize(1, "L")
    assert mass is not None and volume is not None and mass[1] != volume[1]


@pytest.mark.parametrize("code", ["Cel", "[degF]", "[pH]", "foo", "", "/", "g/", "(g", "{x", "m g", "mg/dL)"])
def test_unconvertible_units(code: str) -> None:
    assert canonicalize(1, code) is None
