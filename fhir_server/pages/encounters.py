"""A patient's encounters as the encounter picker and the staff launch page show them.

A row says when (the period's start, localized), what kind of visit (the type's words and the
class in words) and the status in words. Unlike patients (patients.py), encounters are read with
the signed-in user's own policy: the scopes of their role, with the patient in context for
`patient/` scopes. What the user could not read through the FHIR API is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import engine
from ..auth.policy import AccessPolicy, resource_scopes
from ..errors import Forbidden
from ..i18n import _, current_language
from ..i18n.formatting import format_datetime
from ..search import parse_search_request
from ..search.registry import default_registry
from ..storage import ResourceStore
from ..storage.users import User
from .codes import concept_words, encounter_class_word, encounter_status_word
from .patients import PICKER_MATCHES


@dataclass(frozen=True)
class EncounterRow:
    """An encounter as shown, in the reader's language: when, what kind of visit, and its status."""

    id: str
    when: str
    kind: str
    status: str


def user_policy(user: User, roles: dict[str, list[str]], patient: str | None) -> AccessPolicy:
    """What `user` may do through the FHIR API: their role's scopes, `patient` in context."""
    return AccessPolicy(
        actor="pages",
        scopes=resource_scopes(tuple(roles.get(user.role, ()))),
        subject=user.username,
        fhir_user=user.fhir_user,
        role=user.role,
        patient=patient,
    )


def encounter_row(resource: dict[str, Any]) -> EncounterRow:
    types = ", ".join(words for words in (concept_words(c) for c in resource.get("type") or []) if words)
    visit = encounter_class_word(resource.get("class") or {})
    kind = f"{types} ({visit})" if types and visit else types or visit
    status = str(resource.get("status", ""))
    return EncounterRow(str(resource.get("id", "")), encounter_when(resource), kind, encounter_status_word(status))


def encounter_when(resource: dict[str, Any]) -> str:
    """When the encounter took place: its period's start, else its end, in the reader's language."""
    period, language = resource.get("period") or {}, current_language()
    if period.get("start"):
        return format_datetime(str(period["start"]), language)
    if period.get("end"):
        return _("Until {when}").format(when=format_datetime(str(period["end"]), language))
    return _("Date not recorded")


async def find_encounters(store: ResourceStore, policy: AccessPolicy, patient: str) -> list[EncounterRow]:
    """Patient/`patient`'s encounters that `policy` may search, newest first (at most PICKER_MATCHES);
    none when the policy may not search encounters at all."""
    request = parse_search_request(
        "Encounter",
        [("patient", patient), ("_sort", "-date"), ("_count", str(PICKER_MATCHES)), ("_total", "none")],
        default_registry(),
        default_count=PICKER_MATCHES,
        max_count=PICKER_MATCHES,
        strict=True,
    )
    try:
        result = await engine.search_type(store, policy, request)
    except Forbidden:
        return []
    return [encounter_row(record.resource()) for record in result.page.records]
