"""Patients and encounters as the pages show them: record numbers, visit kinds, dates and their fallbacks."""

from __future__ import annotations

from fhir_server.pages.encounters import encounter_row
from fhir_server.pages.patients import RecordNumber, patient_row, record_number

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def test_the_record_number_is_the_mrn_else_the_first_identifier_with_a_value() -> None:
    mrn = {"type": {"coding": [{"system": V2_0203, "code": "MR"}]}, "value": "M-1"}
    passport = {"type": {"coding": [{"system": V2_0203, "code": "PPN"}]}, "value": "P-9"}
    local = {"type": {"text": "Chart no."}, "value": "C-7"}
    assert record_number({"identifier": [passport, mrn]}) == RecordNumber("MRN", "M-1")
    assert record_number({"identifier": [{"system": "urn:x"}, passport]}) == RecordNumber("Passport", "P-9")
    assert record_number({"identifier": [local]}) == RecordNumber("Chart no.", "C-7")
    assert record_number({"identifier": [{"value": "X"}]}) == RecordNumber("Identifier", "X")
    other_system = {"type": {"coding": [{"system": "urn:local", "code": "MR", "display": "Local MR"}]}, "value": "L"}
    assert record_number({"identifier": [other_system]}) == RecordNumber("Local MR", "L"), "MR of another system"
    assert record_number({}) is None


def test_a_patient_row_has_words_not_codes() -> None:
    row = patient_row("p1", {"name": [{"given": ["Ada"], "family": "Lovelace"}], "birthDate": "1815-12",
                             "gender": "female"})  # fmt: skip
    assert (row.name, row.birth_date, row.gender, row.record_number) == ("Ada Lovelace", "Dec 1815", "Female", None)
    assert patient_row("p2", {"id": "p2"}) == patient_row("p2", {"id": "p2", "name": []})
    assert patient_row("p2", {"id": "p2"}).birth_date == ""


def test_an_encounter_row_says_when_and_what_kind_of_visit() -> None:
    full = encounter_row({"id": "e1", "status": "finished", "type": [{"coding": [{"display": "Check-up"}]}],
                          "class": {"code": "HH"}, "period": {"start": "2024-05-05T10:00:00+02:00"}})  # fmt: skip
    assert (full.when, full.kind, full.status) == ("May 5, 2024, 10:00\u202fAM", "Check-up (Home visit)", "Finished")
    ended = encounter_row({"id": "e2", "status": "planned", "period": {"end": "2024-06-01"}})
    assert (ended.when, ended.kind, ended.status) == ("Until Jun 1, 2024", "", "Planned")
    unknown = encounter_row({"id": "e3", "status": "unheard-of", "class": {"system": "urn:local", "code": "X",
                                                                          "display": "Local kind"}})  # fmt: skip
    assert (unknown.when, unknown.kind, unknown.status) == ("Date not recorded", "Local kind", "unheard-of")
