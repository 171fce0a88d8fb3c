"""Index entries, sort keys and compartments extracted from the official R4 examples."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from fhir_server.fhir_json import loads
from fhir_server.search.extract import extract_index, plan
from fhir_server.search.fhirpath_paths import compile_expression
from fhir_server.search.normalize import normalize_string
from fhir_server.search.registry import default_registry, load
from fhir_server.search.values import LATEST

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "r4-examples.ndjson.gz"


@cache
def examples() -> dict[str, dict[str, Any]]:
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as fh:
        resources = [loads(line)["resource"] for line in fh]  # decimals exact, as the server reads them
    return {f"{r['resourceType']}/{r.get('id')}": r for r in resources}


def entries(resource: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k != "p"} for e in extract_index(resource).entries if e["p"] == code]


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_normalize_string() -> None:
    assert normalize_string("  Bénédicte\tdu  MARCHÉ ") == "benedicte du marche"
    assert normalize_string("Straße") == "strasse"


def test_every_example_extracts() -> None:
    registry = default_registry()
    total = 0
    for resource in examples().values():
        total += len(extract_index(resource, registry).entries)
    assert total > 7_000


def test_composite_components_compile_without_fallback() -> None:
    registry = default_registry()
    for definition in registry.parameters_for("Observation").values():
        for component in definition.components:
            for context in ("Observation", "Observation.component"):
                assert not compile_expression(component.expression, "Observation", context).fallbacks


def test_patient_example() -> None:
    patient = examples()["Patient/example"]
    assert {"v": "chalmers", "e": "Chalmers"} in entries(patient, "name")
    assert {"v": "jim", "e": "Jim"} in entries(patient, "name")
    assert entries(patient, "family") == [{"v": "chalmers", "e": "Chalmers"}, {"v": "windsor", "e": "Windsor"}]
    assert [e["v"] for e in entries(patient, "given")] == ["peter", "james", "jim", "peter", "james"]
    assert entries(patient, "gender") == [{"s": None, "c": "male"}]
    assert entries(patient, "birthdate") == [{"lo": day("1974-12-25"), "hi": day("1974-12-26")}]
    identifier = {
        "s": "urn:oid:1.2.36.146.595.217.0.1",
        "c": "12345",
        "ts": "http://terminology.hl7.org/CodeSystem/v2-0203",
        "tc": "MR",
    }
    assert entries(patient, "identifier") == [identifier]
    assert {"s": None, "c": "(03) 5555 6473"} in entries(patient, "telecom")
    assert len(entries(patient, "phone")) == 3
    assert entries(patient, "address-city") == [{"v": "pleasantville", "e": "PleasantVille"}]
    assert entries(patient, "active") == [{"s": None, "c": "true"}]
    assert entries(patient, "deceased") == [{"s": None, "c": "false"}]
    assert entries(patient, "organization") == [{"r": "Organization/1", "ty": "Organization"}]
    assert entries(patient, "_id") == [] and entries(patient, "_lastUpdated") == []
    data = extract_index(patient)
    assert data.sort["family"] == "chalmers" and data.sort["birthdate"] == day("1974-12-25")
    assert data.sort["gender"] == "male"
    assert data.compartments == ["Patient/example"]


def test_observation_example() -> None:
    observation = examples()["Observation/example"]
    assert {"s": "http://loinc.org", "c": "29463-7", "t": "body weight"} in entries(observation, "code")
    assert entries(observation, "subject") == [{"r": "Patient/example", "ty": "Patient"}]
    assert entries(observation, "patient") == [{"r": "Patient/example", "ty": "Patient"}]
    assert entries(observation, "date") == [{"lo": day("2016-03-28"), "hi": day("2016-03-29")}]
    [quantity] = entries(observation, "value-quantity")
    assert quantity["n"] == 185 and quantity["s"] == "http://unitsofmeasure.org" and quantity["c"] == "[lb_av]"
    assert (
        quantity["u"] == "lbs" and quantity["cc"] == "g" and quantity["cn"] == Decimal("83914.58845")
    )  # 185 * 453.59237, exactly
    data = extract_index(observation)
    assert data.compartments == ["Patient/example"]
    assert data.sort["date"] == day("2016-03-28") and data.sort["subject"] == "Patient/example"


def test_blood_pressure_composites() -> None:
    bp = examples()["Observation/blood-pressure"]
    pairs = {(e["k"][0]["c"], e["k"][1]["n"]) for e in entries(bp, "component-code-value-quantity")}
    assert ("8480-6", 107) in pairs and ("8462-4", 60) in pairs and ("8480-6", 60) not in pairs
    combo = {(e["k"][0]["c"], e["k"][1]["n"]) for e in entries(bp, "combo-code-value-quantity")}
    assert pairs <= combo
    assert entries(bp, "code-value-quantity") == []  # the observation itself has no value
    assert extract_index(bp).compartments == ["Patient/example"]  # performer is a Practitioner


def test_condition_onset_period_and_age() -> None:
    condition = {
        "resourceType": "Condition",
        "onsetPeriod": {"start": "2020-02"},
        "subject": {"reference": "Patient/p1/_history/3"},
    }
    assert entries(condition, "onset-date") == [{"lo": day("2020-02-01"), "hi": LATEST}]
    assert entries(condition, "subject") == [{"r": "Patient/p1", "ty": "Patient", "rv": "3"}]
    assert extract_index(condition).compartments == ["Patient/p1"]
    assert entries(examples()["Condition/f202"], "onset-date") == []  # onsetAge: not a date
    assert [e["n"] for e in entries(examples()["Condition/f202"], "onset-age")] == [52]


def test_encounter_period() -> None:
    assert entries(examples()["Encounter/f203"], "date") == [{"lo": day("2013-03-11"), "hi": day("2013-03-21")}]
    [open_ended] = entries(examples()["Encounter/emerg"], "date")
    assert open_ended == {"lo": datetime(2017, 1, 31, 21, 15, tzinfo=UTC), "hi": LATEST}


def test_medication_request_codeable_concept() -> None:
    request = examples()["MedicationRequest/medrx0308"]
    [code] = entries(request, "code")
    assert code["s"] == "http://www.nlm.nih.gov/research/umls/rxnorm" and code["c"] == "856907"
    assert entries(request, "medication") == []


def test_canonical_references() -> None:
    response = examples()["QuestionnaireResponse/gcs"]
    assert entries(response, "questionnaire") == [{"r": "Questionnaire/gcs", "ty": "Questionnaire"}]
    versioned = {"resourceType": "QuestionnaireResponse", "questionnaire": "http://q.org/Questionnaire/q1|2.0"}
    assert entries(versioned, "questionnaire") == [
        {"r": "http://q.org/Questionnaire/q1", "ty": "Questionnaire", "rv": "2.0"}
    ]


def test_reference_forms() -> None:
    observation = {
        "resourceType": "Observation",
        "performer": [
            {"reference": "#contained"},
            {"reference": "https://other.org/fhir/Practitioner/7/_history/2"},
            {"reference": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "type": "Patient"},
            {"identifier": {"system": "http://npi", "value": "123"}},
        ],
    }
    assert entries(observation, "performer") == [
        {"r": "https://other.org/fhir/Practitioner/7", "ty": "Practitioner", "rv": "2"},
        {"r": "urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", "ty": "Patient"},
        {"s": "http://npi", "c": "123", "ri": True},
    ]
    assert extract_index(observation).compartments == []


def test_timing_money_and_uri() -> None:
    request = {
        "resourceType": "ServiceRequest",
        "occurrenceTiming": {"event": ["2021-01-05", "2021-01-02"], "repeat": {"boundsPeriod": {"end": "2021-03"}}},
    }
    assert entries(request, "occurrence") == [{"lo": datetime(1, 1, 1, tzinfo=UTC), "hi": day("2021-04-01")}]
    claim = {"resourceType": "ChargeItemDefinition", "url": "http://c.org/cid"}
    assert entries(claim, "url") == [{"u": "http://c.org/cid"}]
    invoice = {"resourceType": "Invoice", "totalNet": {"value": Decimal("12.5"), "currency": "EUR"}}
    assert entries(invoice, "totalnet") == [{"n": 12.5, "s": "urn:iso:std:iso:4217", "c": "EUR"}]


def test_tags_and_profiles_apply_to_every_type() -> None:
    meta = {"tag": [{"system": "http://t", "code": "x"}], "profile": ["http://p|1"], "source": "http://s"}
    organization = {"resourceType": "Organization", "meta": meta}
    assert entries(organization, "_tag") == [{"s": "http://t", "c": "x"}]
    assert entries(organization, "_profile") == [{"u": "http://p|1"}]
    assert entries(organization, "_source") == [{"u": "http://s"}]


def test_registered_parameter_is_extracted() -> None:
    registry = load()
    plan("Patient", registry)
    registry.register(
        {
            "resourceType": "SearchParameter",
            "url": "http://example.org/SearchParameter/nickname",
            "code": "nickname",
            "base": ["Patient"],
            "type": "string",
            "expression": "Patient.name.where(use = 'usual').given",
        }
    )
    found = [e for e in extract_index(examples()["Patient/example"], registry).entries if e["p"] == "nickname"]
    assert found == [{"v": "jim", "e": "Jim", "p": "nickname"}]
