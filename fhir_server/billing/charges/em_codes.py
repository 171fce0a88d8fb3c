"""The E/M code proposed for a finished Encounter (the fee sheet is where a person confirms it).

1. An Encounter.type coding in CPT is taken as is (the scheduler or clinician chose it).
2. Else an Encounter.type coding in SNOMED CT with a known visit kind (table below).
3. Else Encounter.class (v3-ActCode): ambulatory, virtual, home, emergency, inpatient.

The defaults are the mid-level codes (99213 established outpatient, 99203 new outpatient, ...);
the level of service is a clinician's decision, not something a server can infer.
"""

from __future__ import annotations

from typing import Any

from ..codes import CPT

SNOMED = "http://snomed.info/sct"

BY_SNOMED_TYPE = {
    "185349003": "99213",  # encounter for check up
    "390906007": "99213",  # follow-up encounter
    "185387006": "99203",  # new patient consultation
    "185389009": "99213",  # follow-up visit
    "410620009": "99213",  # well child visit
    "50357006": "99285",  # evaluation and management of patient (emergency context)
}

BY_CLASS = {
    "AMB": "99213",  # office or other outpatient visit, established patient
    "VR": "99213",  # virtual visit (billed with modifier 95 on the fee sheet)
    "HH": "99349",  # home visit, established patient
    "EMER": "99283",  # emergency department visit
    "IMP": "99223",  # initial hospital inpatient care
    "ACUTE": "99223",
    "OBSENC": "99221",  # observation care
}


def proposed_em_code(encounter: dict[str, Any]) -> str | None:
    """The E/M code to charge for a finished `encounter`, or None when nothing says what kind of visit it was."""
    codings = [c for t in encounter.get("type") or [] for c in t.get("coding") or []]
    for coding in codings:
        if coding.get("system") == CPT and coding.get("code"):
            return str(coding["code"])
    for coding in codings:
        if coding.get("system") == SNOMED and coding.get("code") in BY_SNOMED_TYPE:
            return BY_SNOMED_TYPE[coding["code"]]
    return BY_CLASS.get((encounter.get("class") or {}).get("code") or "")
