"""Holding, booking, cancelling, rescheduling and checking in: each one engine transaction.

The Appointment and the Slots it takes or frees (and, on check-in, the new Encounter) are written
together by one transaction Bundle, so the Slots' status always matches the appointments, and the
no-double-booking rule (rules.py) runs on the Appointment inside it: a refused booking writes nothing.
A reschedule is one update of the same Appointment (its new time checked against everyone else's,
not its own old one) with the old Slots freed and the new ones taken: both or neither.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ..auth.policy import AccessPolicy
from ..engine import read_resource
from ..engine.bundle.transaction import process_transaction
from ..errors import FhirError, InvalidRequest, Issue, ResourceDeleted, ResourceNotFound, Unprocessable
from ..i18n import _
from ..storage import ResourceStore, StoredResource
from .access import booking_policy, check_patients
from .appointments import FINAL, HOLDING, SCHEDULED_TYPES, actors, format_instant, hold_expiry, relative, times
from .extensions import HOLD_EXPIRES
from .lookup import SCHEDULING, find_all

_ENTRY = re.compile(r"^entry \d+(?: \([^)]*\))?: ")
ENCOUNTER_CLASS = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB", "display": "ambulatory"}


def _unwrapped(exc: FhirError) -> FhirError:
    """The error of a transaction entry the server made itself, without the entry's label."""
    issues = [
        Issue(
            i.severity,
            i.code,
            _ENTRY.sub("", i.diagnostics),
            None if (i.expression or "").startswith("Bundle.") else i.expression,
        )
        for i in exc.issues
    ]
    return exc.__class__(issues[0].diagnostics, headers=exc.headers, issues=issues)


async def _commit(store: ResourceStore, policy: AccessPolicy, entries: list[dict[str, Any]]) -> list[StoredResource]:
    try:
        results = await process_transaction(store, policy, entries, None)
    except FhirError as exc:
        raise _unwrapped(exc) from None
    return [result.record for result in results if result.record is not None]


def _not_found(where: str, reference: str) -> InvalidRequest:
    text = _("{reference} does not exist.").format(reference=reference)
    return InvalidRequest(text, issues=[Issue("error", "not-found", text, where)])


async def existing(store: ResourceStore, reference: str, where: str) -> dict[str, Any]:
    resource_type, _sep, resource_id = reference.partition("/")
    try:
        return (await read_resource(store, SCHEDULING, resource_type, resource_id)).resource()
    except (ResourceNotFound, ResourceDeleted, InvalidRequest):
        raise _not_found(where, reference) from None


def _codes(concepts: Any) -> set[tuple[str | None, str]]:
    found = set()
    for concept in concepts if isinstance(concepts, list) else []:
        for coding in (concept.get("coding") or []) if isinstance(concept, dict) else []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                found.add((coding.get("system"), coding["code"]))
    return found


def offers(schedule: dict[str, Any], wanted: set[tuple[str | None, str]]) -> bool:
    """Whether `schedule` offers one of the visit types `wanted` ((system, code); a None system matches any)."""
    offered = _codes(schedule.get("serviceType"))
    return any(code == c and (system is None or system == s) for system, code in wanted for s, c in offered)


async def admit(store: ResourceStore, appointment: Any, now: datetime) -> dict[str, Any]:
    """Check a new appointment to hold or book: times ahead, actors and Slots that exist, a visit type offered.

    Raises InvalidRequest naming the element.
    """
    if not isinstance(appointment, dict) or appointment.get("resourceType") != "Appointment":
        raise InvalidRequest(_("An Appointment resource is needed."), expression="appointment-resource")
    span = times(appointment)
    if span is None:
        raise InvalidRequest(_("The appointment needs a start and an end."), expression="Appointment.start")
    if span[0] < now:
        raise InvalidRequest(_("The appointment starts in the past."), expression="Appointment.start")
    involved = actors(appointment)
    if not involved:
        raise InvalidRequest(_("The appointment needs participants."), expression="Appointment.participant")
    for actor in involved:
        await existing(store, actor.reference, actor.where)
    for index, slot in enumerate(appointment.get("slot") or []):
        where = f"Appointment.slot[{index}]"
        reference = relative(slot.get("reference")) if isinstance(slot, dict) else None
        if reference is None or not reference.startswith("Slot/"):
            raise InvalidRequest(_("A slot must be a reference to a Slot."), expression=where)
        stored = await existing(store, reference, where)
        if stored.get("start", "") > format_instant(span[0]) or stored.get("end", "") < format_instant(span[1]):
            raise InvalidRequest(
                _("The appointment's time lies outside {slot}.").format(slot=reference), expression=where
            )
    wanted = _codes(appointment.get("serviceType"))
    if wanted:
        scheduled = ",".join(a.reference for a in involved if a.resource_type in SCHEDULED_TYPES)
        schedules = await find_all(store, "Schedule", [("actor", scheduled), ("active", "true")]) if scheduled else []
        if not any(offers(schedule, wanted) for schedule in schedules):
            raise InvalidRequest(
                _("No schedule of these participants offers this visit type."), expression="Appointment.serviceType[0]"
            )
    return appointment


def _slot_references(appointment: dict[str, Any]) -> list[str]:
    found = [relative(s.get("reference")) for s in appointment.get("slot") or [] if isinstance(s, dict)]
    return [reference for reference in found if reference is not None and reference.startswith("Slot/")]


async def _slot_entries(
    store: ResourceStore, taken: list[str], freed: list[str], status: str, appointment_id: str | None
) -> list[dict[str, Any]]:
    """PUT entries for the Slots `taken` (to `status`) and `freed` (free, unless another appointment holds them)."""
    entries = []
    for reference in dict.fromkeys([*taken, *freed]):
        slot = await existing(store, reference, "Appointment.slot")
        if reference in taken:
            new_status = status
        else:
            others = await find_all(store, "Appointment", [("slot", reference), ("status", ",".join(HOLDING))])
            holding = [a for a in others if a.get("id") != appointment_id]
            new_status = "busy" if holding else "free"
        if slot.get("status") != new_status:
            slot = {k: v for k, v in slot.items() if k != "meta"} | {"status": new_status}
            entries.append({"resource": slot, "request": {"method": "PUT", "url": reference}})
    return entries


def _without_hold(appointment: dict[str, Any]) -> dict[str, Any]:
    kept = [e for e in appointment.get("extension") or [] if not (isinstance(e, dict) and e.get("url") == HOLD_EXPIRES)]
    out = {k: v for k, v in appointment.items() if k not in ("extension", "meta")}
    return out | ({"extension": kept} if kept else {})


def _with_patient(appointment: dict[str, Any], patient: str | None) -> dict[str, Any]:
    if patient is not None and patient not in {a.reference for a in actors(appointment)}:
        participant = {"actor": {"reference": patient}, "required": "required", "status": "accepted"}
        appointment = appointment | {"participant": [*(appointment.get("participant") or []), participant]}
    return appointment


def _answered(appointment: dict[str, Any], status: str) -> dict[str, Any]:
    """Participants that have not answered (a proposal's `needs-action`) take `status` (accepted, tentative)."""
    participants = []
    for participant in appointment.get("participant") or []:
        if isinstance(participant, dict) and participant.get("status") in (None, "needs-action", "tentative"):
            participant = participant | {"status": status}
        participants.append(participant)
    return appointment | {"participant": participants}


def _needs_patient(appointment: dict[str, Any]) -> None:
    if not any(actor.resource_type == "Patient" for actor in actors(appointment)):
        raise InvalidRequest(_("A booked appointment needs a patient."), expression="patient")


async def hold(
    store: ResourceStore, policy: AccessPolicy, proposed: Any, patient: str | None, minutes: int
) -> dict[str, Any]:
    """Hold the time of a proposed appointment for `minutes`: a pending Appointment, its Slots busy-tentative."""
    acting = booking_policy(policy, ("Slot", "ru"))
    now = datetime.now(UTC)
    appointment = await admit(store, _with_patient(proposed, patient) if isinstance(proposed, dict) else proposed, now)
    check_patients(policy, appointment)
    expires = {"url": HOLD_EXPIRES, "valueInstant": format_instant(now + timedelta(minutes=minutes))}
    held = _answered(_without_hold({k: v for k, v in appointment.items() if k != "id"}), "tentative")
    held["status"] = "pending"
    held["extension"] = [*held.get("extension", []), expires]
    held["created"] = format_instant(now)[:10]
    full_url = f"urn:uuid:{uuid.uuid4()}"
    entries = [{"fullUrl": full_url, "resource": held, "request": {"method": "POST", "url": "Appointment"}}]
    entries += await _slot_entries(store, _slot_references(held), [], "busy-tentative", None)
    return (await _commit(store, acting, entries))[0].resource()


async def _current(store: ResourceStore, policy: AccessPolicy, appointment_id: str) -> tuple[dict[str, Any], int]:
    result = await read_resource(store, policy, "Appointment", appointment_id)
    return result.resource(), result.version_id


def _update(appointment: dict[str, Any], version: int) -> dict[str, Any]:
    return {
        "resource": {k: v for k, v in appointment.items() if k != "meta"},
        "request": {"method": "PUT", "url": f"Appointment/{appointment['id']}", "ifMatch": f'W/"{version}"'},
    }


def _refuse_final(appointment: dict[str, Any]) -> None:
    status = appointment.get("status")
    if status in FINAL:
        raise Unprocessable(
            _("Appointment/{id} is {status}: it is over and cannot be booked, cancelled or moved.").format(
                id=appointment["id"], status=status
            ),
            expression="Appointment.status",
        )


async def book_held(
    store: ResourceStore, policy: AccessPolicy, appointment_id: str, patient: str | None
) -> dict[str, Any]:
    """Book the held (or pending) appointment `appointment_id` with `patient`; a booked one is answered as it is."""
    acting = booking_policy(policy, ("Slot", "ru"))
    appointment, version = await _current(store, policy, appointment_id)
    _refuse_final(appointment)
    if appointment.get("status") != "pending":
        return appointment
    expiry = hold_expiry(appointment)
    now = datetime.now(UTC)
    if expiry is not None and expiry <= now:
        raise Unprocessable(
            _("The hold on Appointment/{id} expired at {time}; find a new time.").format(
                id=appointment_id, time=format_instant(expiry)
            ),
            expression="Appointment.extension",
        )
    booked = _answered(_with_patient(_without_hold(appointment), patient), "accepted") | {"status": "booked"}
    _needs_patient(booked)
    check_patients(policy, booked)
    entries = [
        _update(booked, version),
        *await _slot_entries(store, _slot_references(booked), [], "busy", appointment_id),
    ]
    return (await _commit(store, acting, entries))[0].resource()


async def book_new(store: ResourceStore, policy: AccessPolicy, proposed: Any, patient: str | None) -> dict[str, Any]:
    """Book a new appointment directly (no hold first)."""
    acting = booking_policy(policy, ("Slot", "ru"))
    now = datetime.now(UTC)
    appointment = await admit(store, _with_patient(proposed, patient) if isinstance(proposed, dict) else proposed, now)
    booked = _answered(_without_hold({k: v for k, v in appointment.items() if k != "id"}), "accepted")
    booked["status"] = "booked"
    booked["created"] = format_instant(now)[:10]
    _needs_patient(booked)
    check_patients(policy, booked)
    entries = [
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": booked, "request": {"method": "POST", "url": "Appointment"}}
    ]
    entries += await _slot_entries(store, _slot_references(booked), [], "busy", None)
    return (await _commit(store, acting, entries))[0].resource()


async def cancel(store: ResourceStore, policy: AccessPolicy, appointment_id: str, reason: str | None) -> dict[str, Any]:
    """Cancel `appointment_id` and free its Slots; a cancelled one is answered as it is."""
    acting = booking_policy(policy, ("Slot", "ru"))
    appointment, version = await _current(store, policy, appointment_id)
    if appointment.get("status") == "cancelled":
        return appointment
    _refuse_final(appointment)
    check_patients(policy, appointment)
    cancelled = _without_hold(appointment) | {"status": "cancelled"}
    if reason:
        cancelled["cancelationReason"] = {"text": reason}
    entries = [
        _update(cancelled, version),
        *await _slot_entries(store, [], _slot_references(appointment), "free", appointment_id),
    ]
    return (await _commit(store, acting, entries))[0].resource()


async def reschedule(
    store: ResourceStore, policy: AccessPolicy, appointment_id: str, start: Any, end: Any, slots: list[str]
) -> dict[str, Any]:
    """Move `appointment_id` to [start, end) (and `slots`): the new time taken and the old freed, or neither."""
    acting = booking_policy(policy, ("Slot", "ru"))
    appointment, version = await _current(store, policy, appointment_id)
    _refuse_final(appointment)
    check_patients(policy, appointment)
    moved = _without_hold(appointment) | {"start": start, "end": end}
    moved["slot"] = [{"reference": reference} for reference in slots]
    if not slots:
        moved.pop("slot")
    await admit(store, moved, datetime.now(UTC))
    if moved.get("status") == "pending":
        moved["status"] = "booked"
    old = [reference for reference in _slot_references(appointment) if reference not in slots]
    entries = [_update(moved, version), *await _slot_entries(store, slots, old, "busy", appointment_id)]
    return (await _commit(store, acting, entries))[0].resource()


async def check_in(
    store: ResourceStore, policy: AccessPolicy, appointment_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mark a booked appointment arrived and open its Encounter (Encounter.appointment); both in one transaction."""
    policy.require("u", "Appointment")
    acting = booking_policy(policy, ("Encounter", "c")) if not policy.trusted else policy
    appointment, version = await _current(store, policy, appointment_id)
    if appointment.get("status") != "booked":
        raise Unprocessable(
            _("Only a booked appointment can be checked in; Appointment/{id} is {status}.").format(
                id=appointment_id, status=appointment.get("status")
            ),
            expression="Appointment.status",
        )
    involved = actors(appointment)
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": "arrived",
        "class": ENCOUNTER_CLASS,
        "appointment": [{"reference": f"Appointment/{appointment_id}"}],
        "period": {"start": format_instant(datetime.now(UTC))},
    }
    patient = next((a.reference for a in involved if a.resource_type == "Patient"), None)
    if patient is not None:
        encounter["subject"] = {"reference": patient}
    people = [a for a in involved if a.resource_type in ("Practitioner", "PractitionerRole")]
    if people:
        encounter["participant"] = [{"individual": {"reference": a.reference}} for a in people]
    places = [a for a in involved if a.resource_type == "Location"]
    if places:
        encounter["location"] = [{"location": {"reference": a.reference}} for a in places]
    if appointment.get("serviceType"):
        encounter["serviceType"] = appointment["serviceType"][0]
    arrived = {k: v for k, v in appointment.items() if k != "meta"} | {"status": "arrived"}
    entries = [
        _update(arrived, version),
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": encounter,
            "request": {"method": "POST", "url": "Encounter"},
        },
    ]
    written = await _commit(store, acting, entries)
    return written[0].resource(), written[1].resource()


async def expire_holds(store: ResourceStore, now: datetime) -> int:
    """Cancel every hold that lapsed before `now` and free its Slots; how many were cancelled."""
    expired = 0
    for appointment in await find_all(store, "Appointment", [("status", "pending")]):
        expiry = hold_expiry(appointment)
        if expiry is None or expiry > now:
            continue
        try:
            await cancel(store, SCHEDULING, appointment["id"], _("The hold expired."))
        except FhirError:
            continue  # booked or changed meanwhile: the next round looks again
        expired += 1
    return expired
