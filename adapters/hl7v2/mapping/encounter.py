"""PV1 → Encounter (IG segment map PV1[Encounter]). https://build.fhir.org/ig/HL7/v2-to-fhir/ConceptMap-segment-pv1-to-encounter.html"""

from __future__ import annotations

from typing import Any

from fhir_server.i18n import _

from .bundle import Transaction, ref
from .datatypes import cx, datetime_of, xpn
from .model import Context
from .segments import Segment, Value
from .tables import PATIENT_CLASS, V2_0203, V3_ACT_CODE

NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def _location_text(value: Value) -> str:
    """PL as one line: point of care, room, bed, facility, building, floor."""
    parts = [value.c(i) for i in (1, 2, 3, 4, 7, 8)]
    return " ".join(p for p in parts if p)


def _doctor(value: Value) -> str:
    name = xpn(Value(value.parts[1:], value.delims, value.sep)) or {}
    text = " ".join([*name.get("given", []), name.get("family", "")]).strip()
    return text or value.c(1)


def build_encounter(pv1: Segment, patient_url: str, status: str, ctx: Context) -> dict[str, Any] | None:
    """The Encounter for a PV1; None (101 warning) without a PV1-19 visit number to identify it."""
    visit = pv1.first(19)
    identifier = cx(visit, ctx.options.authorities) if visit else None
    if identifier is None:
        ctx.warn("101", pv1.loc(19), _("PV1-19 (visit number) is empty: no Encounter is mapped"))
        return None
    identifier.setdefault("type", {"coding": [{"system": V2_0203, "code": "VN"}]})
    code = pv1.c(2).upper()
    if code in PATIENT_CLASS:
        act, display = PATIENT_CLASS[code]
        klass = {"system": V3_ACT_CODE, "code": act, "display": display}
    elif code:
        ctx.warn("103", pv1.loc(2), _("'{value}' is not in table 0004 (patient class)").format(value=code))
        klass = {"system": "http://terminology.hl7.org/CodeSystem/v2-0004", "code": code}
    else:
        klass = {"system": NULL_FLAVOR, "code": "UNK"}
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "identifier": [identifier],
        "status": status,
        "class": klass,
        "subject": ref(patient_url),
    }
    locations = [{"location": {"display": text}} for v in pv1.reps(3) if (text := _location_text(v))]
    if locations:
        encounter["location"] = locations
    participants = [(v, "ATND") for v in pv1.reps(7)] + [(v, "REF") for v in pv1.reps(8)]
    people = [
        {"type": [{"coding": [{"system": PARTICIPATION, "code": kind}]}], "individual": {"display": name}}
        for v, kind in participants
        if (name := _doctor(v))
    ]
    if people:
        encounter["participant"] = people
    period = {}
    if start := datetime_of(pv1.c(44), ctx, pv1.loc(44)):
        period["start"] = start
    if end := datetime_of(pv1.c(45), ctx, pv1.loc(45)):
        period["end"] = end
    if period:
        encounter["period"] = period
    return encounter


def add_encounter(
    pv1: Segment | None, patient_url: str, status: str, ctx: Context, tx: Transaction, update: bool
) -> str | None:
    """Put the Encounter in the transaction; returns its fullUrl (None when not mapped)."""
    if pv1 is None:
        return None
    if status == "unknown" and pv1.c(45):
        status = "finished"
    encounter = build_encounter(pv1, patient_url, status, ctx)
    if encounter is None:
        return None
    key = encounter["identifier"][0]
    return tx.update(encounter, key) if update else tx.create(encounter, key)
