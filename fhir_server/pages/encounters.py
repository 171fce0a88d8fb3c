"""A patient's encounters as the encounter picker and the staff launch page show them.

Unlike patients (patients.py), encounters are read with the signed-in user's own policy: the
scopes of their role, with the patient in context for `patient/` scopes. What the user could
not read through the FHIR API is not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import engine
from ..auth.policy import AccessPolicy, resource_scopes
from ..errors import Forbidden
from ..search import parse_search_request
from ..search.registry import default_registry
from ..storage import ResourceStore
from ..storage.users import User
from .patients import PICKER_MATCHES


@dataclass(frozen=True)
class EncounterRow:
    id: str
    period: str
    type: str
    status: str
    encounter_class: str


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


def _concept_text(concept: dict[str, Any]) -> str:
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return ""


def encounter_row(resource: dict[str, Any]) -> EncounterRow:
    period = resource.get("period") or {}
    start, end = str(period.get("start", "")), str(period.get("end", ""))
    shown = f"{start[:16]} – {end[:16]}" if end and end[:16] != start[:16] else start[:16]
    types = ", ".join(t for t in (_concept_text(c) for c in resource.get("type") or []) if t)
    kind = resource.get("class") or {}
    return EncounterRow(
        id=str(resource.get("id", "")),
        period=shown.replace("T", " "),
        type=types,
        status=str(resource.get("status", "")),
        encounter_class=str(kind.get("display") or kind.get("code") or ""),
    )


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
