"""What the consent page offers and what the user's ticks amount to.

The offer is the requested scopes narrowed by the user's role and by the client's ceiling
(requested ∩ role ∩ client). Every offered scope is a checkbox named `scope`; a read scope
on Observation or Condition also offers one checkbox per category, whose value is the
granular v2 scope (`patient/Observation.rs?category=<system>|<code>`). Unticking the type
and ticking categories grants just those categories. Only offered values count: a posted
scope the page did not offer is ignored, so consent can narrow but never widen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..auth.scopes import ResourceScope, narrow, parse_scope
from ..i18n import _, current_language
from ..i18n.formatting import format_list

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
US_CORE_CONDITION_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"

CATEGORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "Observation": tuple(
        (OBSERVATION_CATEGORY, code)
        for code in (
            "laboratory", "vital-signs", "social-history", "imaging", "procedure", "survey", "exam", "therapy",
            "activity",
        )
    ),
    "Condition": (
        (CONDITION_CATEGORY, "problem-list-item"),
        (CONDITION_CATEGORY, "encounter-diagnosis"),
        (US_CORE_CONDITION_CATEGORY, "health-concern"),
    ),
}  # fmt: skip
"""The categories offered per resource type, as (system, code)."""


@dataclass(frozen=True)
class Choice:
    """One checkbox: the scope it grants and its label."""

    value: str
    label: str


@dataclass(frozen=True)
class ScopeChoice:
    """An offered scope, and the category checkboxes that may stand in for it."""

    scope: Choice
    categories: tuple[Choice, ...]


def offered_scopes(requested: Iterable[str], role_ceiling: Iterable[str], client_ceiling: Sequence[str]) -> list[str]:
    """requested ∩ role ∩ client (an empty client ceiling means none). Raises ScopeError for a malformed scope."""
    scopes = narrow(requested, role_ceiling)
    return narrow(scopes, client_ceiling) if client_ceiling else scopes


def category_scopes(scope: str) -> list[tuple[str, str]]:
    """The granular scopes that narrow a read scope on Observation or Condition to one category, with their codes."""
    parsed = parse_scope(scope)
    if parsed is None or parsed.query or parsed.resource_type not in CATEGORIES or not parsed.permissions & {"r", "s"}:
        return []
    return [
        (str(replace(parsed, query=(("category", f"{system}|{code}"),), v1=False)), code)
        for system, code in CATEGORIES[parsed.resource_type]
    ]


def approved_scopes(offered: Sequence[str], ticked: Iterable[str]) -> list[str]:
    """The offered scopes the user kept; for a type they unticked, the categories they ticked instead."""
    chosen = set(ticked)
    approved: list[str] = []
    for scope in offered:
        if scope in chosen:
            approved.append(scope)
        else:
            approved.extend(value for value, _code in category_scopes(scope) if value in chosen)
    return approved


def consent_choices(offered: Sequence[str]) -> list[ScopeChoice]:
    """The consent page's checkboxes for `offered`."""
    return [
        ScopeChoice(
            Choice(scope, scope_label(scope)),
            tuple(Choice(value, category_label(code)) for value, code in category_scopes(scope)),
        )
        for scope in offered
    ]


def scope_label(scope: str) -> str:
    """What the scope lets the app see and do, as a short sentence ("See this patient's allergies")."""
    parsed = parse_scope(scope)
    if parsed is None:
        return _plain_labels().get(scope, scope)
    verbs = [verb for letters, verb in _actions() if parsed.permissions & set(letters)]
    sentence = _sentence(parsed).format(actions=format_list(verbs, current_language()), things=_things(parsed))
    return sentence[:1].upper() + sentence[1:] + _only(parsed)


def _sentence(parsed: ResourceScope) -> str:
    if parsed.context == "patient":
        return _("{actions} this patient's {things}")
    if parsed.context == "user":
        return _("{actions} {things} your account has access to")
    return _("{actions} {things} of all patients")


def _actions() -> tuple[tuple[str, str], ...]:
    """Permission letters and what they let the app do; reading and searching are both seeing."""
    return (("rs", _("see")), ("c", _("add")), ("u", _("change")), ("d", _("delete")))


def _things(parsed: ResourceScope) -> str:
    if parsed.resource_type == "*":
        return _("records")
    words = _record_words().get(parsed.resource_type)
    return words if words is not None else _("{type} records").format(type=parsed.resource_type)


def _only(parsed: ResourceScope) -> str:
    """For a granular scope: which of the records, in words (" (only: Vital signs)")."""
    if not parsed.query:
        return ""
    codes = [value.partition("|")[2] or value for name, value in parsed.query if name == "category"]
    if len(codes) == len(parsed.query):
        kinds = format_list([category_label(code) for code in codes], current_language())
        return " " + _("(only: {kinds})").format(kinds=kinds)
    return " " + _("(only some of them)")


def _record_words() -> dict[str, str]:
    """Resource types as a patient or clinician names them (plural, as in "see this patient's ...")."""
    return {
        "Patient": _("personal details"),
        "Observation": _("test results and measurements"),
        "Condition": _("problems and diagnoses"),
        "AllergyIntolerance": _("allergies"),
        "MedicationRequest": _("prescriptions"),
        "MedicationDispense": _("dispensed medicines"),
        "MedicationStatement": _("medicines taken"),
        "Medication": _("medicines"),
        "Immunization": _("vaccinations"),
        "Procedure": _("procedures"),
        "Encounter": _("visits"),
        "DiagnosticReport": _("reports"),
        "DocumentReference": _("documents"),
        "CarePlan": _("care plans"),
        "CareTeam": _("care teams"),
        "Goal": _("goals"),
        "Appointment": _("appointments"),
        "ServiceRequest": _("orders"),
        "Coverage": _("insurance details"),
        "Account": _("billing accounts"),
        "Practitioner": _("details of doctors and staff"),
        "Organization": _("organizations"),
        "Location": _("locations"),
        "Device": _("devices"),
    }


def _plain_labels() -> dict[str, str]:
    return {
        "openid": _("Confirm who you are"),
        "fhirUser": _("See your own details, such as your name"),
        "profile": _("Confirm who you are"),
        "launch": _("Open with the patient and visit you are working on"),
        "launch/patient": _("Know which patient this is about"),
        "launch/encounter": _("Know which visit this is about"),
        "offline_access": _("Keep access after you sign out, until you take it back"),
        "online_access": _("Keep access while you stay signed in"),
    }


def category_label(code: str) -> str:
    return _category_labels().get(code, code)


def _category_labels() -> dict[str, str]:
    return {
        "laboratory": _("Laboratory results"),
        "vital-signs": _("Vital signs"),
        "social-history": _("Social history"),
        "imaging": _("Imaging"),
        "procedure": _("Procedures"),
        "survey": _("Surveys"),
        "exam": _("Examinations"),
        "therapy": _("Therapy"),
        "activity": _("Activity"),
        "problem-list-item": _("Problem list"),
        "encounter-diagnosis": _("Diagnoses of visits"),
        "health-concern": _("Health concerns"),
    }
