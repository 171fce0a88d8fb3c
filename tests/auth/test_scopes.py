"""SMART scopes: parsing v1 and v2, refusing malformed ones, and narrowing by a ceiling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_server.auth import DEFAULT_ROLES, ScopeError, load_roles, narrow, parse_scope, within


@pytest.mark.parametrize(
    ("text", "context", "resource_type", "permissions"),
    [
        ("patient/Observation.read", "patient", "Observation", "rs"),
        ("user/*.*", "user", "*", "cruds"),
        ("user/Patient.write", "user", "Patient", "cud"),
        ("system/*.rs", "system", "*", "rs"),
        ("patient/Condition.cruds", "patient", "Condition", "cruds"),
        ("patient/Condition.s", "patient", "Condition", "s"),
    ],
)
def test_resource_scopes_parse(text: str, context: str, resource_type: str, permissions: str) -> None:
    scope = parse_scope(text)
    assert scope is not None
    assert (scope.context, scope.resource_type, scope.permissions) == (context, resource_type, frozenset(permissions))


@pytest.mark.parametrize("text", ["openid", "fhirUser", "launch/patient", "offline_access", "profile"])
def test_plain_scopes_are_not_resource_scopes(text: str) -> None:
    assert parse_scope(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "patient/Observation.sr",
        "patient/Observation.rr",
        "patient/Observation.x",
        "user/Obs-ervation.rs",
        "patient/.rs",
    ],
)
def test_malformed_scopes_are_refused(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


def test_a_query_needs_v2_permissions() -> None:
    with pytest.raises(ScopeError, match="v2"):
        parse_scope("patient/Observation.read?category=laboratory")


def test_granular_scope_keeps_its_query() -> None:
    scope = parse_scope(
        "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    )
    assert scope is not None
    assert scope.query == (("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),)


def test_v1_scopes_print_as_written_and_v2_in_permission_order() -> None:
    assert str(parse_scope("patient/Observation.read")) == "patient/Observation.read"
    assert str(parse_scope("user/*.*")) == "user/*.*"
    assert str(parse_scope("user/*.cruds")) == "user/*.cruds"


def test_within() -> None:
    wide, narrow_scope = parse_scope("user/*.cruds"), parse_scope("patient/Observation.rs?category=laboratory")
    assert wide is not None and narrow_scope is not None
    assert within(narrow_scope, wide)
    assert not within(wide, narrow_scope)
    system = parse_scope("system/*.cruds")
    assert system is not None and not within(system, wide)


def test_narrowing_never_widens() -> None:
    granted = narrow(["patient/*.cruds", "openid", "launch/patient", "unknown"], ["user/Observation.rs", "openid"])
    assert granted == ["patient/Observation.rs", "openid"]


def test_narrowing_keeps_a_requested_scope_that_fits_as_written() -> None:
    assert narrow(["patient/Observation.read"], DEFAULT_ROLES["physician"]) == ["patient/Observation.read"]


def test_narrowing_intersects_queries() -> None:
    granted = narrow(["patient/Observation.rs?category=laboratory"], ["patient/Observation.rs?status=final"])
    assert granted == ["patient/Observation.rs?category=laboratory&status=final"]


def test_patient_role_stays_in_the_patient_context() -> None:
    assert narrow(["user/*.cruds"], DEFAULT_ROLES["patient"]) == [
        "patient/*.rs",
        "patient/QuestionnaireResponse.cruds",
        "patient/Appointment.c",
    ]


def test_roles_file_replaces_and_adds(tmp_path: Path) -> None:
    path = tmp_path / "roles.json"
    path.write_text(json.dumps({"nurse": ["user/*.rs"], "scheduler": ["user/Appointment.cruds"]}))
    roles = load_roles(path)
    assert roles["nurse"] == ["user/*.rs"] and roles["scheduler"] == ["user/Appointment.cruds"]
    assert roles["physician"] == DEFAULT_ROLES["physician"]


@pytest.mark.parametrize("content", ['["user/*.rs"]', '{"nurse": "user/*.rs"}', '{"nurse": ["user/*.zz"]}', "{"])
def test_a_bad_roles_file_is_refused_with_its_name(tmp_path: Path, content: str) -> None:
    path = tmp_path / "roles.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="roles.json"):
        load_roles(path)
