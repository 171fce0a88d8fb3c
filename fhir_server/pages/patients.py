"""Patients as the picker and the consent page show them, found through the engine's search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import engine
from ..auth.policy import AccessPolicy
from ..errors import FhirError
from ..search import parse_search_request
from ..search.registry import default_registry
from ..storage import ResourceStore

PAGES_POLICY = AccessPolicy.system("pages")
"""The pages look patients up for a signed-in user before any token exists: they decide themselves who
may see the picker (staff whose role reads any patient) and whose record a patient user gets."""

PICKER_MATCHES = 20
"""Matches shown at once: a name that matches more needs more letters."""


@dataclass(frozen=True)
class PatientRow:
    id: str
    name: str
    birth_date: str
    gender: str


def patient_row(patient_id: str, resource: dict[str, Any]) -> PatientRow:
    return PatientRow(patient_id, display_name(resource), resource.get("birthDate", ""), resource.get("gender", ""))


def display_name(resource: dict[str, Any]) -> str:
    """The first name of the resource as people write it ("Jane Doe"), or its id."""
    for name in resource.get("name") or []:
        if name.get("text"):
            return str(name["text"])
        words = [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]
        text = " ".join(str(w) for w in words if w)
        if text:
            return text
    return str(resource.get("id", ""))


async def find_patients(store: ResourceStore, name: str) -> list[PatientRow]:
    """Current patients whose name matches `name` (FHIR string search: starts with, any part of the name)."""
    request = parse_search_request(
        "Patient",
        [("name", name), ("_count", str(PICKER_MATCHES)), ("_total", "none")],
        default_registry(),
        default_count=PICKER_MATCHES,
        max_count=PICKER_MATCHES,
        strict=True,
    )
    result = await engine.search_type(store, PAGES_POLICY, request)
    return [patient_row(record.id, record.resource()) for record in result.page.records]


async def describe_patient(store: ResourceStore, patient_id: str) -> PatientRow | None:
    """Patient/`patient_id` as a row; None when it cannot be read (unknown, deleted, malformed id)."""
    try:
        record = await engine.read_resource(store, PAGES_POLICY, "Patient", patient_id)
    except FhirError:
        return None
    return patient_row(patient_id, record.resource())
