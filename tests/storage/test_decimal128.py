"""The search fields' decimals reach BSON as the same Decimal128 that bson's own (slower) conversion makes."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from bson.decimal128 import Decimal128

from fhir_server.decimals import FhirDecimal, nearest_decimal128
from fhir_server.storage.codec import decimal128_of

_EDGES = [
    "0", "-0", "0.000", "0E-6176", "0E+6111", "1", "-1", "1.10", "1.0e2", "123456789012345678901234567890.1234",
    "9999999999999999999999999999999999", "99999999999999999999999999999999999", "1E-6176", "1E+6144", "-1E+6144",
    "1E-7000", "1E+7000", "18446744073709551615", "18446744073709551616", "3.14159", "-2.5E-300", "Infinity",
    "-Infinity", "NaN",
]  # fmt: skip


@pytest.mark.parametrize("text", _EDGES)
def test_edges_match_bson(text: str) -> None:
    assert decimal128_of(Decimal(text)).bid == Decimal128(nearest_decimal128(Decimal(text))).bid


def test_random_decimals_match_bson() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))
        text = f"{rng.choice(['', '-'])}{digits}E{rng.randint(-6200, 6200)}"
        value = FhirDecimal(text) if rng.random() < 0.5 else Decimal(text)
        assert decimal128_of(value).bid == Decimal128(nearest_decimal128(value)).bid, text
