"""The pure parts: X12 segments written and read back, delimiters refused, E/M code proposals."""

from __future__ import annotations

import pytest

from fhir_server.billing.charges.em_codes import proposed_em_code
from fhir_server.billing.codes import CPT
from fhir_server.billing.x12.segments import Delimiters, X12DataError, clean, composite, delimiters_of, parse, render


def test_segments_round_trip_and_drop_trailing_empty_elements() -> None:
    isa = (
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        "A".ljust(15),
        "ZZ",
        "B".ljust(15),
        "261206",
        "2200",
        "^",
        "00501",
    )
    isa += ("000000001", "0", "T", ":")
    text = render([isa, ("NM1", "85", "2", "Clinic", "", ""), ("SV1", composite("HC", "99213", "", ""), "10.10")])
    assert "NM1*85*2*Clinic~" in text and "SV1*HC:99213*10.10~" in text
    assert parse(text)[1:] == [("NM1", "85", "2", "Clinic"), ("SV1", "HC:99213", "10.10")]
    assert delimiters_of(text) == Delimiters()


@pytest.mark.parametrize("value", ["Do*e", "a~b", "x:y", "p^q"])
def test_a_delimiter_in_data_is_refused(value: str) -> None:
    with pytest.raises(X12DataError):
        clean(value)


def test_clean_keeps_case_and_collapses_spaces() -> None:
    assert clean("  Good\tClinic \n ") == "Good Clinic"


@pytest.mark.parametrize(
    ("encounter", "code"),
    [
        ({"type": [{"coding": [{"system": CPT, "code": "99214"}]}], "class": {"code": "AMB"}}, "99214"),
        ({"type": [{"coding": [{"system": "http://snomed.info/sct", "code": "185387006"}]}]}, "99203"),
        ({"class": {"code": "AMB"}}, "99213"),
        ({"class": {"code": "EMER"}}, "99283"),
        ({"class": {"code": "HH"}}, "99349"),
        ({"class": {"code": "FLD"}}, None),
        ({}, None),
    ],
)
def test_em_code_proposals(encounter: dict, code: str | None) -> None:
    assert proposed_em_code(encounter) == code
