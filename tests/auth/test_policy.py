"""AccessPolicy on its own: scopes within the role's ceiling, and what each permission reaches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fhir_server.auth import DEFAULT_ROLES, AccessPolicy, Grant, Reach
from fhir_server.errors import Forbidden


def _policy(scope: str, role: str | None = None, patient: str | None = None) -> AccessPolicy:
    now = datetime.now(UTC)
    grant = Grant("access", "app", tuple(scope.split()), now, now + timedelta(hours=1), "f", role=role, patient=patient)
    return AccessPolicy.from_grant(grant, DEFAULT_ROLES)


def test_patient_scopes_confine_compartment_types_and_every_write() -> None:
    policy = _policy("patient/*.cruds", role="physician", patient="p1")
    assert policy.reaches("r", "Observation") == (Reach("Patient/p1"),)
    assert policy.reaches("s", "Patient") == (Reach("Patient/p1"),)
    assert policy.reaches("r", "Practitioner") == (Reach(),)  # belongs to no patient
    assert policy.reaches("c", "Practitioner") == (Reach("Patient/p1"),)  # so a patient's token cannot write it


def test_user_scope_makes_a_patient_scope_redundant() -> None:
    policy = _policy("patient/Observation.rs user/Observation.r", role="physician", patient="p1")
    assert policy.reaches("r", "Observation") == (Reach(),)
    assert policy.reaches("s", "Observation") == (Reach("Patient/p1"),)


def test_granular_scopes_are_alternatives() -> None:
    scope = "patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs"
    policy = _policy(scope, role="patient", patient="p1")
    assert {r.query for r in policy.reaches("s", "Observation")} == {
        (("category", "laboratory"),),
        (("category", "vital-signs"),),
    }


def test_role_ceiling_applies_at_request_time() -> None:
    policy = _policy("user/Patient.cruds", role="front-desk")
    policy.require("c", "Patient")
    policy = _policy("user/Patient.cruds", role="billing")  # billing may only read demographics
    policy.require("r", "Patient")
    with pytest.raises(Forbidden):
        policy.require("c", "Patient")


def test_patient_scope_without_context_allows_nothing() -> None:
    policy = _policy("patient/*.rs", role="patient")
    assert policy.reaches("r", "Observation") == ()
    with pytest.raises(Forbidden, match="patient in context"):
        policy.require("r", "Observation")


def test_system_operations_need_system_scopes() -> None:
    _policy("system/*.rs").require_system("r", "Observation")
    with pytest.raises(Forbidden, match="system/"):
        _policy("user/*.cruds", role="admin").require_system("r")
    AccessPolicy.system("cli").require_system("u")
    assert AccessPolicy.open().reaches("d", "Patient") == (Reach(),)
