"""Patients as the picker and the consent page show them, found through the engine's search.

A row carries what tells two namesakes apart at the front desk: the name, the birth date, the
gender and the record number (the MRN: the identifier of type `MR`, else the first one, with
its label). Matches come sorted by family name, given names and birth date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import engine
from ..auth.policy import AccessPolicy
from ..errors import FhirError
from ..i18n import current_language
from ..i18n.formatting import format_date
from ..names import display_name
from ..search import parse_search_request
from ..search.registry import default_registry
from ..storage import ResourceStore
from .codes import gender_word, identifier_label, identifier_type_code

PAGES_POLICY = AccessPolicy.system("pages")
"""The pages look patients up for a signed-in user before any token exists: they decide themselves who
may see the picker (staff whose role reads any patient) and whose record a patient user gets."""

PICKER_MATCHES = 20
"""Matches shown at once: a name that matches more needs more letters."""


SORT = "family,given,birthdate"
"""The picker's order; the search sorts, so the first PICKER_MATCHES are the first in this order too."""


@dataclass(frozen=True)
class RecordNumber:
    """An identifier as the pages show it: what it is (`MRN`) and its value."""

    label: str
    value: str


@dataclass(frozen=True)
class PatientRow:
    """A patient as shown, in the reader's language: `birth_date` and `gender` are words, not FHIR values."""

    id: str
    name: str
    birth_date: str
    gender: str
    record_number: RecordNumber | None = None


def patient_row(patient_id: str, resource: dict[str, Any]) -> PatientRow:
    birth_date, gender = resource.get("birthDate"), resource.get("gender")
    return PatientRow(
        patient_id,
        display_name(resource),
        format_date(str(birth_date), current_language()) if birth_date else "",
        gender_word(str(gender)) if gender else "",
        record_number(resource),
    )


def record_number(resource: dict[str, Any]) -> RecordNumber | None:
    """The patient's MRN (the identifier of type MR), else their first identifier with a value."""
    identifiers = [i for i in resource.get("identifier") or [] if i.get("value")]
    chosen = next((i for i in identifiers if identifier_type_code(i) == "MR"), identifiers[0] if identifiers else None)
    return RecordNumber(identifier_label(chosen), str(chosen["value"])) if chosen else None


async def find_patients(store: ResourceStore, name: str) -> list[PatientRow]:
    """Current patients whose name matches `name` (FHIR string search: starts with, any part of the name),
    sorted by family name, given names and birth date; the first PICKER_MATCHES in that order."""
    request = parse_search_request(
        "Patient",
        [("name", name), ("_sort", SORT), ("_count", str(PICKER_MATCHES)), ("_total", "none")],
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
