"""Every US Core 6.1 SHALL search must be answered from an index: MongoDB `explain` shows no collection scan.

Resources go in through the engine; each search is parsed and compiled exactly as the engine does
(`parse_search_request`, then the planner's clauses, then `planned_query`), and the plan the
database reports for the query's index *driver* (search/plan.py: the plain conditions that find
the candidates, which the full filter then checks by `_id`) is inspected.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import ASCENDING, MongoClient

from fhir_server.auth.policy import AccessPolicy
from fhir_server.engine import update_resource
from fhir_server.engine.identity import now
from fhir_server.engine.search import _Planner, planned_query
from fhir_server.search.registry import default_registry
from fhir_server.search.request import parse_search_request
from fhir_server.storage import CurrentQuery, EmbeddedDatabase, MongoResourceStore

PATIENTS = 3
PAGE = 20

_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
_DOC_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
_LOINC = "http://loinc.org"
_SCT = "http://snomed.info/sct"
_MRN = "http://hospital.example.org/mrn"
_NPI = "http://hl7.org/fhir/sid/us-npi"


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _clinical(n: int) -> list[dict[str, Any]]:
    """Patient `p{n}` and one resource of each US Core type about it; ids end with `-{n}`."""
    subject = {"reference": f"Patient/p{n}"}
    day = f"2020-01-{10 + n:02d}"
    return [
        {
            "resourceType": "Patient",
            "id": f"p{n}",
            "identifier": [{"system": _MRN, "value": f"MRN-{n}"}],
            "name": [{"family": f"Family{n}", "given": ["Jane"]}],
            "gender": "female",
            "birthDate": f"1970-01-{1 + n:02d}",
        },
        {
            "resourceType": "Observation",
            "id": f"obs-{n}",
            "status": "final",
            "category": [_concept(_CATEGORY, "vital-signs")],
            "code": _concept(_LOINC, "8867-4"),
            "subject": subject,
            "effectiveDateTime": day,
            "valueQuantity": {"value": 70 + n, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
        },
        {
            "resourceType": "Condition",
            "id": f"cond-{n}",
            "category": [_concept(_CONDITION_CATEGORY, "problem-list-item")],
            "code": _concept(_SCT, "44054006"),
            "subject": subject,
        },
        {
            "resourceType": "Encounter",
            "id": f"enc-{n}",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": subject,
            "period": {"start": f"{day}T09:00:00Z", "end": f"{day}T10:00:00Z"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": f"mr-{n}",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": _concept("http://www.nlm.nih.gov/research/umls/rxnorm", "860975"),
            "subject": subject,
        },
        {
            "resourceType": "DiagnosticReport",
            "id": f"dr-{n}",
            "status": "final",
            "category": [_concept(_LOINC, "LP29684-5")],
            "code": _concept(_LOINC, "24323-8"),
            "subject": subject,
            "effectiveDateTime": day,
        },
        {
            "resourceType": "Procedure",
            "id": f"proc-{n}",
            "status": "completed",
            "code": _concept(_SCT, "73761001"),
            "subject": subject,
            "performedDateTime": day,
        },
        {"resourceType": "AllergyIntolerance", "id": f"allergy-{n}", "patient": subject},
        {
            "resourceType": "Immunization",
            "id": f"imm-{n}",
            "status": "completed",
            "vaccineCode": _concept("http://hl7.org/fhir/sid/cvx", "140"),
            "patient": subject,
            "occurrenceDateTime": day,
        },
        {
            "resourceType": "CarePlan",
            "id": f"cp-{n}",
            "status": "active",
            "intent": "plan",
            "category": [_concept("http://hl7.org/fhir/us/core/CodeSystem/careplan-category", "assess-plan")],
            "subject": subject,
        },
        {"resourceType": "CareTeam", "id": f"ct-{n}", "status": "active", "subject": subject},
        {
            "resourceType": "DocumentReference",
            "id": f"doc-{n}",
            "status": "current",
            "type": _concept(_LOINC, "34117-2"),
            "category": [_concept(_DOC_CATEGORY, "clinical-note")],
            "subject": subject,
            "date": f"{day}T10:00:00Z",
            "content": [{"attachment": {"contentType": "text/plain", "data": "aGVsbG8="}}],
        },
        {
            "resourceType": "Goal",
            "id": f"goal-{n}",
            "lifecycleStatus": "active",
            "description": {"text": "Lose weight"},
            "subject": subject,
        },
        {"resourceType": "Device", "id": f"dev-{n}", "patient": subject},
        {
            "resourceType": "Location",
            "id": f"loc-{n}",
            "name": f"Clinic{n} main site",
            "address": {"city": f"Town{n}", "state": "MA"},
        },
        {
            "resourceType": "Organization",
            "id": f"org-{n}",
            "name": f"Clinic{n}",
            "address": [{"city": f"Town{n}", "state": "MA"}],
        },
        {
            "resourceType": "Practitioner",
            "id": f"pract-{n}",
            "identifier": [{"system": _NPI, "value": f"99999{n:05d}"}],
            "name": [{"family": f"Doctor{n}", "given": ["Sam"]}],
        },
    ]


SHALL_SEARCHES: list[tuple[str, list[tuple[str, str]]]] = [
    ("Patient", [("_id", "p1")]),
    ("Patient", [("identifier", f"{_MRN}|MRN-1")]),
    ("Patient", [("name", "family1")]),
    ("Patient", [("birthdate", "1970-01-02"), ("name", "family1")]),
    ("Patient", [("gender", "female"), ("name", "family1")]),
    ("Observation", [("patient", "p1"), ("category", f"{_CATEGORY}|vital-signs")]),
    ("Observation", [("patient", "p1"), ("code", f"{_LOINC}|8867-4")]),
    ("Observation", [("patient", "p1"), ("category", "vital-signs"), ("date", "ge2020-01-01")]),
    ("Condition", [("patient", "p1")]),
    ("Condition", [("patient", "p1"), ("category", "problem-list-item")]),
    ("Encounter", [("_id", "enc-1")]),
    ("Encounter", [("patient", "p1")]),
    ("Encounter", [("date", "ge2020-01-01"), ("patient", "p1")]),
    ("MedicationRequest", [("patient", "p1"), ("intent", "order")]),
    ("MedicationRequest", [("patient", "p1"), ("intent", "order"), ("status", "active")]),
    ("DiagnosticReport", [("patient", "p1")]),
    ("DiagnosticReport", [("patient", "p1"), ("category", "LP29684-5")]),
    ("DiagnosticReport", [("patient", "p1"), ("code", f"{_LOINC}|24323-8")]),
    ("DiagnosticReport", [("patient", "p1"), ("category", "LP29684-5"), ("date", "ge2020-01-01")]),
    ("Procedure", [("patient", "p1")]),
    ("Procedure", [("patient", "p1"), ("date", "ge2020-01-01")]),
    ("AllergyIntolerance", [("patient", "p1")]),
    ("Immunization", [("patient", "p1")]),
    ("CarePlan", [("patient", "p1"), ("category", "assess-plan")]),
    ("CareTeam", [("patient", "p1"), ("status", "active")]),
    ("DocumentReference", [("_id", "doc-1")]),
    ("DocumentReference", [("patient", "p1")]),
    ("DocumentReference", [("patient", "p1"), ("type", f"{_LOINC}|34117-2")]),
    ("DocumentReference", [("patient", "p1"), ("category", "clinical-note")]),
    ("DocumentReference", [("patient", "p1"), ("category", "clinical-note"), ("date", "ge2020-01-01")]),
    ("Goal", [("patient", "p1")]),
    ("Device", [("patient", "p1")]),
    ("Location", [("name", "clinic1")]),
    ("Location", [("address", "town1")]),
    ("Organization", [("name", "clinic1")]),
    ("Organization", [("address", "town1")]),
    ("Practitioner", [("name", "doctor1")]),
    ("Practitioner", [("identifier", f"{_NPI}|9999900001")]),
]
"""The SHALL searches of the US Core 6.1 server CapabilityStatement, on data that `_clinical` writes."""


def _label(search: tuple[str, list[tuple[str, str]]]) -> str:
    kind, pairs = search
    return f"{kind}?{'&'.join(name for name, _value in pairs)}"


async def _load(uri: str, name: str) -> None:
    store = MongoResourceStore.connect(uri, name)
    try:
        await store.ensure_indexes()
        for n in range(PATIENTS):
            for resource in _clinical(n):
                await update_resource(
                    store, AccessPolicy.system("test"), resource["resourceType"], resource["id"], resource
                )
    finally:
        await store.close()


async def _query(uri: str, name: str, kind: str, pairs: list[tuple[str, str]]) -> CurrentQuery:
    """The storage query the engine runs for this search."""
    store = MongoResourceStore.connect(uri, name)
    try:
        registry = default_registry()
        request = parse_search_request(kind, pairs, registry, default_count=PAGE, max_count=1000, strict=True)
        clauses = await _Planner(store, AccessPolicy.system("test"), registry, now(), None).clauses(
            kind, request.filters
        )
        return planned_query(kind, clauses)
    finally:
        await store.close()


@pytest.fixture(scope="module")
def loaded(database: EmbeddedDatabase) -> Iterator[tuple[str, MongoClient[dict[str, Any]]]]:
    """A fresh database holding `PATIENTS` patients' resources, and a sync client for `explain`."""
    name = f"index_usage_{uuid.uuid4().hex[:8]}"
    asyncio.run(_load(database.uri, name))
    client: MongoClient[dict[str, Any]] = MongoClient(database.uri)
    try:
        yield name, client
    finally:
        client.drop_database(name)
        client.close()


def _stages(plan: dict[str, Any]) -> list[str]:
    """Every stage name of a plan tree (inputStage, inputStages, and $or/sort branches)."""
    found = [str(plan.get("stage"))]
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if isinstance(child, dict):
            found += _stages(child)
    return found


def _explain(loaded: tuple[str, MongoClient[dict[str, Any]]], flt: dict[str, Any]) -> dict[str, Any]:
    name, client = loaded
    cursor = client[name]["resources"].find(flt).sort("_id", ASCENDING).limit(PAGE + 1)
    explained: dict[str, Any] = cursor.explain()
    return explained


def test_explain_reports_index_use(loaded: tuple[str, MongoClient[dict[str, Any]]]) -> None:
    """The database's explain does tell an index scan from a collection scan (else the tests below mean nothing)."""
    indexed = _stages(_explain(loaded, {"compartments": "Patient/p1"})["queryPlanner"]["winningPlan"])
    scanned = _stages(_explain(loaded, {"no_such_field": 1})["queryPlanner"]["winningPlan"])
    assert "IXSCAN" in indexed, f"explain shows no IXSCAN for an indexed equality: {indexed}"
    assert "COLLSCAN" in scanned, f"explain shows no COLLSCAN for an unindexed field: {scanned}"


@pytest.mark.parametrize("search", SHALL_SEARCHES, ids=[_label(s) for s in SHALL_SEARCHES])
def test_shall_search_uses_an_index(
    database: EmbeddedDatabase,
    loaded: tuple[str, MongoClient[dict[str, Any]]],
    search: tuple[str, list[tuple[str, str]]],
) -> None:
    kind, pairs = search
    query = asyncio.run(_query(database.uri, loaded[0], kind, pairs))
    assert query.driver is not None, f"{_label(search)} has no clause an index can answer: {query.criteria}"
    name, client = loaded
    flt = dict(query.driver) if "_id" in query.driver else MongoResourceStore.candidates_filter(query)
    full = {"type": kind, **query.criteria}
    assert client[name]["resources"].count_documents(full) >= 1, f"{_label(search)} matches nothing: {full}"
    explained = _explain(loaded, flt)
    stages = _stages(explained["queryPlanner"]["winningPlan"])
    stats = explained.get("executionStats", {})
    assert "COLLSCAN" not in stages and "IXSCAN" in stages, (
        f"{_label(search)} is answered by a collection scan: winning plan {stages}, "
        f"{stats.get('totalKeysExamined')} keys and {stats.get('totalDocsExamined')} documents examined "
        f"for {stats.get('nReturned')} returned. Filter: {flt}"
    )
