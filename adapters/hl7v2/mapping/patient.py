"""PID → Patient (IG segment map PID[Patient]). https://build.fhir.org/ig/HL7/v2-to-fhir/ConceptMap-segment-pid-to-patient.html"""

from __future__ import annotations

from typing import Any

from fhir_server.i18n import _

from .bundle import Transaction
from .datatypes import cwe, cx, date_of, datetime_of, hd_system, xad, xpn, xtn
from .model import Context
from .segments import Message, Segment, Value
from .tables import GENDER

MARITAL = {"A": "L", "D": "D", "M": "M", "S": "S", "W": "W", "P": "T", "I": "I", "C": "C", "U": "UNK"}
V3_MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"


def default_authority(message: Message) -> Value | None:
    """MSH-4 (else MSH-3): stands in for a missing assigning authority, since identifiers are local to the sender."""
    msh = message.first("MSH")
    if msh is None:
        return None
    return msh.first(4) or msh.first(3)


def patient_identifiers(pid: Segment, message: Message, ctx: Context) -> list[dict[str, Any]]:
    """PID-3 identifiers; those without an assigning authority get the sending facility's namespace."""
    out = []
    fallback = default_authority(message)
    for value in pid.reps(3):
        ident = cx(value, ctx.options.authorities)
        if ident is None:
            continue
        if "system" not in ident and fallback is not None and (system := hd_system(fallback, ctx.options.authorities)):
            ident["system"] = system
        out.append(ident)
    return out


def build_patient(pid: Segment, message: Message, ctx: Context) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The Patient and its key identifier; None (101 recorded) when PID-3 has no identifier."""
    identifiers = patient_identifiers(pid, message, ctx)
    if not identifiers:
        ctx.error("101", pid.loc(3), _("PID-3 (patient identifier list) is required"))
        return None
    patient: dict[str, Any] = {"resourceType": "Patient", "identifier": identifiers}
    names = [n for n in (xpn(v) for v in pid.reps(5)) if n]
    if names:
        patient["name"] = names
    if birth := date_of(pid.raw(7).split(pid.delims.component)[0], ctx, pid.loc(7)):
        patient["birthDate"] = birth
    sex = pid.c(8).upper()
    if sex in GENDER:
        patient["gender"] = GENDER[sex]
    elif sex:
        ctx.warn("103", pid.loc(8), _("'{value}' is not in table 0001 (administrative sex)").format(value=sex))
    addresses = [a for a in (xad(v) for v in pid.reps(11)) if a]
    if addresses:
        patient["address"] = addresses
    telecom = [t for t in (xtn(v, "home") for v in pid.reps(13)) if t]
    telecom += [t for t in (xtn(v, "work") for v in pid.reps(14)) if t]
    if telecom:
        patient["telecom"] = telecom
    if concept := cwe(pid.first(15)):
        patient["communication"] = [{"language": concept}]
    marital = pid.c(16).upper()
    if marital in MARITAL:
        patient["maritalStatus"] = {"coding": [{"system": V3_MARITAL, "code": MARITAL[marital]}]}
    elif marital:
        ctx.warn("103", pid.loc(16), _("'{value}' is not in table 0002 (marital status)").format(value=marital))
    _deceased(pid, patient, ctx)
    return patient, identifiers[0]


def _deceased(pid: Segment, patient: dict[str, Any], ctx: Context) -> None:
    """PID-29 death date/time, else PID-30 death indicator."""
    if when := datetime_of(pid.c(29), ctx, pid.loc(29)):
        patient["deceasedDateTime"] = when
    elif pid.c(30).upper() in ("Y", "N"):
        patient["deceasedBoolean"] = pid.c(30).upper() == "Y"


def add_patient(message: Message, ctx: Context, tx: Transaction, update: bool) -> str | None:
    """Put the Patient in the transaction (conditional update for ADT, conditional create otherwise)."""
    pid = message.first("PID")
    if pid is None:
        ctx.error("101", "PID", _("the PID segment is required"))
        return None
    built = build_patient(pid, message, ctx)
    if built is None:
        return None
    patient, key = built
    return tx.update(patient, key) if update else tx.create(patient, key)
