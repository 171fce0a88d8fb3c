"""What the consent page offers, and what ticks amount to (no server needed)."""

from __future__ import annotations

from fhir_server.auth.roles import DEFAULT_ROLES
from fhir_server.pages.choices import (
    CONDITION_CATEGORY,
    US_CORE_CONDITION_CATEGORY,
    approved_scopes,
    category_scopes,
    consent_choices,
    offered_scopes,
)

PROBLEMS = f"patient/Condition.rs?category={CONDITION_CATEGORY}|problem-list-item"
CONCERNS = f"patient/Condition.rs?category={US_CORE_CONDITION_CATEGORY}|health-concern"


def test_offer_is_requested_within_role_and_client() -> None:
    requested = ["openid", "offline_access", "patient/Observation.cruds", "patient/Claim.rs", "system/*.rs"]
    within_role = ["openid", "offline_access", "patient/Observation.rs", "patient/Claim.rs"]
    assert offered_scopes(requested, DEFAULT_ROLES["patient"], []) == within_role
    client = ["patient/Observation.r", "openid"]
    assert offered_scopes(requested, DEFAULT_ROLES["patient"], client) == ["openid", "patient/Observation.r"]


def test_categories_are_offered_for_reading_observations_and_conditions_only() -> None:
    assert [code for _v, code in category_scopes("patient/Condition.read")] == [
        "problem-list-item",
        "encounter-diagnosis",
        "health-concern",
    ]
    assert category_scopes("patient/Condition.read")[0][0] == PROBLEMS, "v1 read becomes v2 rs with the query"
    assert len(category_scopes("user/Observation.rs")) == 9
    for scope in ("patient/Observation.c", "patient/Patient.rs", "openid", PROBLEMS, "patient/*.rs"):
        assert category_scopes(scope) == [], scope


def test_ticks_narrow_and_never_widen() -> None:
    offered = ["openid", "patient/Condition.rs", "patient/Observation.rs"]
    ticked = ["openid", PROBLEMS, CONCERNS, "patient/Observation.rs", "user/*.cruds", "patient/Patient.rs"]
    assert approved_scopes(offered, ticked) == ["openid", PROBLEMS, CONCERNS, "patient/Observation.rs"]
    assert approved_scopes(offered, [*offered, PROBLEMS]) == offered, "a kept type makes its categories moot"
    assert approved_scopes(offered, []) == []


def test_choices_carry_labels() -> None:
    choices = consent_choices(["launch/patient", "patient/Condition.rs", "user/*.cruds"])
    assert [c.scope.label for c in choices] == [
        "Know which patient this is about",
        "See this patient's problems and diagnoses",
        "See, add, change, and delete records your account has access to",
    ]
    assert [c.label for c in choices[1].categories] == ["Problem list", "Diagnoses of visits", "Health concerns"]
