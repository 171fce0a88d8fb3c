"""Coded values the pages show, in the reader's words: gender, encounter status and class, identifier types.

A record stores codes (`male`, `in-progress`, `IMP`); a clinician reads words in their own
language. Codes of the bound R4 value sets are translated here; a code outside them shows the
record's own display, else the code itself, so nothing is hidden.
https://hl7.org/fhir/R4/valueset-administrative-gender.html,
https://hl7.org/fhir/R4/valueset-encounter-status.html,
https://terminology.hl7.org/ValueSet-v3-ActEncounterCode.html,
https://terminology.hl7.org/CodeSystem-v2-0203.html
"""

from __future__ import annotations

from typing import Any

from ..i18n import _

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"


def gender_word(code: str) -> str:
    """Patient.gender in words."""
    words = {"male": _("Male"), "female": _("Female"), "other": _("Other"), "unknown": _("Unknown")}
    return words.get(code, code)


def encounter_status_word(code: str) -> str:
    """Encounter.status in words."""
    words = {
        "planned": _("Planned"),
        "arrived": _("Arrived"),
        "triaged": _("Triaged"),
        "in-progress": _("In progress"),
        "onleave": _("On leave"),
        "finished": _("Finished"),
        "cancelled": _("Cancelled"),
        "entered-in-error": _("Entered in error"),
        "unknown": _("Unknown"),
    }
    return words.get(code, code)


def encounter_class_word(coding: dict[str, Any]) -> str:
    """Encounter.class (a Coding, v3 ActEncounterCode) in words; '' when it says nothing."""
    words = {
        "AMB": _("Outpatient visit"),
        "EMER": _("Emergency"),
        "FLD": _("Field visit"),
        "HH": _("Home visit"),
        "IMP": _("Inpatient stay"),
        "ACUTE": _("Inpatient stay (acute)"),
        "NONAC": _("Inpatient stay (non-acute)"),
        "OBSENC": _("Observation stay"),
        "PRENC": _("Pre-admission"),
        "SS": _("Short stay"),
        "VR": _("Virtual visit"),
    }
    code = str(coding.get("code") or "")
    if coding.get("system", ACT_CODE) == ACT_CODE and code in words:
        return words[code]
    return str(coding.get("display") or code)


def concept_words(concept: dict[str, Any]) -> str:
    """A CodeableConcept as its text, else its first coding's display (or code); '' when it has none."""
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display") or coding.get("code"):
            return str(coding.get("display") or coding.get("code"))
    return ""


def identifier_type_code(identifier: dict[str, Any]) -> str | None:
    """The v2-0203 code of Identifier.type (`MR`, `SS` ...), if it has one (a coding without a system counts)."""
    for coding in (identifier.get("type") or {}).get("coding") or []:
        if coding.get("system", IDENTIFIER_TYPE) == IDENTIFIER_TYPE and coding.get("code"):
            return str(coding["code"])
    return None


def identifier_label(identifier: dict[str, Any]) -> str:
    """What an Identifier is, in words: `MRN`, `Passport` ..., the type's own text, else `Identifier`."""
    words = {
        "MR": _("MRN"),
        "SS": _("Social security number"),
        "DL": _("Driver's license"),
        "PPN": _("Passport"),
    }
    code = identifier_type_code(identifier)
    if code in words:
        return words[code]
    return concept_words(identifier.get("type") or {}) or _("Identifier")
