"""Staff and patient roles as scope ceilings: a token never carries more than its user's role allows.

The defaults model a small practice; a deployment replaces or extends them with a JSON file
(`{"role": ["scope", ...]}`) named by the `roles_file` setting.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from .scopes import LAUNCH_SCOPES, ScopeError, parse_scope

_SIGN_IN = sorted(LAUNCH_SCOPES)

_DEMOGRAPHICS = ("Patient", "RelatedPerson", "Person")
_DIRECTORY = ("Practitioner", "PractitionerRole", "Organization", "Location", "HealthcareService", "Endpoint")
_SCHEDULING = ("Appointment", "AppointmentResponse", "Schedule", "Slot")
_FINANCIAL = (
    "Account",
    "ChargeItem",
    "ChargeItemDefinition",
    "Claim",
    "ClaimResponse",
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "ExplanationOfBenefit",
    "Invoice",
    "PaymentNotice",
    "PaymentReconciliation",
)
_LAB = ("Observation", "DiagnosticReport", "Specimen", "ServiceRequest", "Task", "Encounter", "Patient")


def _each(context: str, types: tuple[str, ...], permissions: str) -> list[str]:
    return [f"{context}/{t}.{permissions}" for t in types]


DEFAULT_ROLES: dict[str, list[str]] = {
    "admin": ["user/*.cruds", "system/*.cruds", *_SIGN_IN],
    "physician": ["user/*.cruds", *_SIGN_IN],
    "nurse": [
        "user/*.rs",
        *_each("user", ("Observation", "Condition", "AllergyIntolerance", "Immunization", "Procedure"), "cruds"),
        *_each("user", ("MedicationAdministration", "CarePlan", "Goal", "Task", "Communication"), "cruds"),
        *_SIGN_IN,
    ],
    "front-desk": [
        *_each("user", _DEMOGRAPHICS + _SCHEDULING + ("Coverage",), "cruds"),
        *_each("user", _DIRECTORY + ("Encounter",), "rs"),
        *_SIGN_IN,
    ],
    "billing": [
        *_each("user", _FINANCIAL, "cruds"),
        *_each("user", _DEMOGRAPHICS + _DIRECTORY + ("Encounter", "Condition"), "rs"),
        "user/Task.cruds",
        *_SIGN_IN,
    ],
    "lab-interface": [*_each("system", _LAB, "cruds"), *_each("system", _DIRECTORY, "rs")],
    "patient": ["patient/*.rs", "patient/QuestionnaireResponse.cruds", "patient/Appointment.c", *_SIGN_IN],
    "pharmacy": [
        *_each("user", ("Medication", "MedicationDispense", "MedicationAdministration", "SupplyDelivery"), "cruds"),
        *_each("user", ("SupplyRequest", "Flag", "Task"), "cruds"),
        *_each("user", ("MedicationRequest", "Location", "Patient"), "rs"),
        *_SIGN_IN,
    ],
}
"""Role → the widest scopes a token of a user with that role may carry."""


def load_roles(path: Path | None) -> dict[str, list[str]]:
    """The default roles, with the roles of the JSON file at `path` replacing or adding to them.

    Raise ValueError naming the role and scope when the file holds something that is not a scope list.
    """
    roles = {name: list(scopes) for name, scopes in DEFAULT_ROLES.items()}
    if path is None:
        return roles
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"Roles file {path}: {exc}") from exc
    if not isinstance(loaded, Mapping):
        raise ValueError(f"Roles file {path}: expected an object of role name → list of scopes.")
    for name, scopes in loaded.items():
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError(f"Roles file {path}: role {name!r} must be a list of scope strings.")
        for scope in scopes:
            try:
                parse_scope(scope)
            except ScopeError as exc:
                raise ValueError(f"Roles file {path}: role {name!r}: {exc}") from exc
        roles[name] = scopes
    return roles
