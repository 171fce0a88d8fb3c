"""fhir_json: decimals read and written as their text, repeated keys located, bad JSON refused."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from fhir_server.decimals import FhirDecimal
from fhir_server.fhir_json import InvalidJson, dumps, loads

TEXTS = [
    "1.10",
    "0.1000000000000000055",
    "1.0e2",
    "1.0E+2",
    "-0.0",
    "1E-22",
    "0.0000001",
    "-1.000000000000000000E+245",
    "12345678901234567890123",
    "-1234567890123456789",
    "100",
    "-7",
]


@pytest.mark.parametrize("text", TEXTS)
def test_numbers_are_written_back_as_read(text: str) -> None:
    assert dumps(loads(f'{{"v":[{text}]}}')) == f'{{"v":[{text}]}}'.encode()


def test_integers_stay_int_and_decimals_compare_by_value() -> None:
    value = loads(b'{"a": 7, "b": 2.50, "c": 123456789012345678}')
    assert type(value["a"]) is int and type(value["c"]) is int
    assert isinstance(value["b"], FhirDecimal) and value["b"] == FhirDecimal("2.5") and str(value["b"]) == "2.50"


def test_a_copied_decimal_keeps_its_text() -> None:
    original = {"v": FhirDecimal("1.0e2")}
    assert dumps(copy.deepcopy(original)) == b'{"v":1.0e2}'


@pytest.mark.parametrize(
    ("text", "duplicates"),
    [
        ('{"resourceType": "Patient", "gender": "male", "gender": "female"}', [("gender", "Patient.gender")]),
        (
            '{"resourceType": "Bundle", "entry": [{}, {"resource": {"resourceType": "Patient",'
            ' "name": [{"given": ["a"], "given": ["b"]}]}}]}',
            [("given", "Bundle.entry[1].resource.name[0].given")],
        ),
        ('{"a": 1, "a": 2, "b": {"c": 1, "c": 1}}', [("a", "$.a"), ("c", "$.b.c")]),
        ('[{"x": 1, "x": 1}]', [("x", "$[0].x")]),
    ],
)
def test_repeated_keys_are_all_located(text: str, duplicates: list[tuple[str, str]]) -> None:
    assert loads(text) is not None  # without the check, the last value wins as in any parser
    with pytest.raises(InvalidJson) as caught:
        loads(text, unique_keys=True)
    assert caught.value.duplicates == duplicates


@pytest.mark.parametrize(
    "text",
    [b"", b"{", b'{"a": 1,}', b"[NaN]", b"[Infinity]", b"[-Infinity]", b'["\\ud800"]', b'["\\udc00x"]', b"\xff",
     b"[" * 100_000, b'{"a": 1, "a": 2, "b": }'],
)  # fmt: skip
def test_what_is_not_json_is_refused(text: bytes) -> None:
    with pytest.raises(InvalidJson):
        loads(text, unique_keys=True)


def test_escaped_surrogate_pairs_are_characters() -> None:
    assert loads(b'["\\ud83d\\ude00", "\\\\ud800"]') == ["\U0001f600", "\\ud800"]


def test_only_finite_decimals_are_written() -> None:
    assert dumps({"v": FhirDecimal("2.50") + 1}) == b'{"v":3.50}'
    with pytest.raises(TypeError):
        dumps({"v": Decimal("NaN")})
