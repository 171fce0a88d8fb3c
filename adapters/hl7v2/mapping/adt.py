"""ADT A01/A04/A08 (ADT_A01 structure), A03, A11, A28/A31 → Patient (+ Encounter) conditional updates.

Encounter.status per event: A01 admit → in-progress, A04 register → arrived, A08 update → finished when
PV1-45 is set else in-progress, A03 discharge → finished (period.end = PV1-45, else EVN-6, else EVN-2),
A11 cancel admit → cancelled. A28/A31 (person information) carry no visit: Patient only.
"""

from __future__ import annotations

from fhir_server.i18n import _

from .bundle import Transaction
from .datatypes import datetime_of
from .encounter import add_encounter
from .model import Context
from .patient import add_patient
from .segments import Message

ENCOUNTER_STATUS = {"A01": "in-progress", "A04": "arrived", "A08": "in-progress", "A03": "finished", "A11": "cancelled"}
PERSON_EVENTS = ("A28", "A31")
ADT_EVENTS = (*ENCOUNTER_STATUS, *PERSON_EVENTS)


def map_adt(message: Message, event: str, ctx: Context) -> Transaction | None:
    """An ADT message as a transaction of conditional updates; None when the patient can't be identified."""
    tx = Transaction()
    patient = add_patient(message, ctx, tx, update=True)
    if patient is None or event in PERSON_EVENTS:
        return None if patient is None else tx
    pv1 = message.first("PV1")
    if pv1 is None:
        ctx.warn("101", "PV1", _("no PV1 segment: no Encounter is mapped"))
        return tx
    status = ENCOUNTER_STATUS[event]
    if event == "A08" and pv1.c(45):
        status = "finished"
    url = add_encounter(pv1, patient, status, ctx, tx, update=True)
    if url is None or event != "A03":
        return tx
    encounter = next(e["resource"] for e in tx.entries.values() if e["fullUrl"] == url)
    period = encounter.setdefault("period", {})
    if "end" not in period:
        evn = message.first("EVN")
        when = None
        if evn is not None:
            when = datetime_of(evn.c(6), ctx, evn.loc(6)) or datetime_of(evn.c(2), ctx, evn.loc(2))
        if when:
            period["end"] = when
        elif not period:
            del encounter["period"]
    return tx
