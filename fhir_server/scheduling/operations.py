"""The scheduling operations (IHE ITI Scheduling: ITI-115 $find, ITI-116 $hold, ITI-117 $book), and the
server's own $cancel, $reschedule, $check-in and `Schedule/$generate-slots`.

https://profiles.ihe.net/ITI/Scheduling/ — $find answers a searchset Bundle of proposed Appointments
(not stored); $hold and $book take one of them as `appointment-resource` (or the held one as
`appointment-reference`). Every write goes through one engine transaction (booking.py), so the
no-double-booking rule and the audit log see it like any other write.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from ..errors import Forbidden, InvalidRequest
from ..i18n import _
from ..rest.context import base_url, settings_of, store_of
from ..rest.operations.declaration import INSTANCE, TYPE, Operation, OperationCall, Parameter
from ..rest.responses import FhirResponse
from . import booking
from .access import books_for_own_patient
from .appointments import relative
from .find import find_appointments, parse_find
from .parameters import Inputs, read_inputs
from .slots import generate_all, generate_slots


def _reference(inputs_value: str | None, name: str) -> str | None:
    if inputs_value is None:
        return None
    reference = relative(inputs_value) or (
        f"Patient/{inputs_value}" if name == "patient" and "/" not in inputs_value else None
    )
    if reference is None:
        raise InvalidRequest(_("'{value}' is not a reference.").format(value=inputs_value[:80]), expression=name)
    return reference


async def find(call: OperationCall) -> Response:
    policy = call.policy
    if not (policy.allows("s", "Slot") or policy.allows("c", "Appointment")):
        policy.require("s", "Slot")
    settings = settings_of(call.request)
    query = list(call.request.query_params.multi_items())
    if call.request.method == "POST":
        inputs = await booking_inputs(call)
        query = [(name, value) for name, values in inputs.values.items() for value in values]
    request = parse_find(query, datetime.now(UTC), settings.default_page_size, settings.max_page_size)
    if request.patient is not None and books_for_own_patient(policy) and request.patient != policy.patient_compartment:
        raise Forbidden(_("A patient may look for appointments only for themselves."), expression="patient")
    found = await find_appointments(store_of(call.request), request)
    base = base_url(call.request)
    kept = [(n, v) for n, v in query if n != "_offset"]
    links = [{"relation": "self", "url": f"{base}/Appointment/$find?{urlencode(query)}"}]
    if found.more:
        following = [*kept, ("_offset", str(request.offset + request.count))]
        links.append({"relation": "next", "url": f"{base}/Appointment/$find?{urlencode(following)}"})
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {"fullUrl": f"urn:uuid:{_uuid(p['id'])}", "resource": p, "search": {"mode": "match"}}
            for p in found.proposals
        ],
    }
    return FhirResponse(bundle)


def _uuid(hex_id: str) -> str:
    digits = hex_id[1:33].ljust(32, "0")
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:32]}"


async def booking_inputs(call: OperationCall) -> Inputs:
    return await read_inputs(call.request)


async def hold(call: OperationCall) -> Response:
    inputs = await booking_inputs(call)
    proposed = inputs.resources.get("appointment-resource")
    if proposed is None:
        raise InvalidRequest(
            _("$hold needs the proposed Appointment as 'appointment-resource'."), expression="appointment-resource"
        )
    minutes = settings_of(call.request).hold_minutes
    patient = _reference(inputs.one("patient"), "patient")
    held = await booking.hold(store_of(call.request), call.policy, proposed, patient, minutes)
    return FhirResponse(held, status_code=201)


async def book(call: OperationCall) -> Response:
    store, policy = store_of(call.request), call.policy
    inputs = await booking_inputs(call)
    patient = _reference(inputs.one("patient"), "patient")
    held = (
        call.resource_id or (relative(inputs.one("appointment-reference")) or "").removeprefix("Appointment/") or None
    )
    if inputs.one("appointment-reference") is not None and held is None:
        raise InvalidRequest(_("'appointment-reference' must name an Appointment."), expression="appointment-reference")
    if held is not None:
        return FhirResponse(await booking.book_held(store, policy, held, patient))
    proposed = inputs.resources.get("appointment-resource")
    if proposed is None:
        raise InvalidRequest(
            _("$book needs 'appointment-reference' or 'appointment-resource'."), expression="appointment-resource"
        )
    if isinstance(proposed, dict) and proposed.get("status") == "cancelled" and isinstance(proposed.get("id"), str):
        return FhirResponse(await booking.cancel(store, policy, proposed["id"], None))
    return FhirResponse(await booking.book_new(store, policy, proposed, patient), status_code=201)


async def cancel(call: OperationCall) -> Response:
    inputs = await booking_inputs(call)
    assert call.resource_id is not None
    return FhirResponse(
        await booking.cancel(store_of(call.request), call.policy, call.resource_id, inputs.one("reason"))
    )


async def reschedule(call: OperationCall) -> Response:
    inputs = await booking_inputs(call)
    assert call.resource_id is not None
    for name in ("start", "end"):
        if inputs.one(name) is None:
            raise InvalidRequest(_("'{name}' is required.").format(name=name), expression=name)
    slots = []
    for value in inputs.values.get("slot", []):
        reference = relative(value) or (f"Slot/{value}" if "/" not in value else None)
        if reference is None or not reference.startswith("Slot/"):
            raise InvalidRequest(_("'{value}' is not a reference.").format(value=value[:80]), expression="slot")
        slots.append(reference)
    moved = await booking.reschedule(
        store_of(call.request), call.policy, call.resource_id, inputs.one("start"), inputs.one("end"), slots
    )
    return FhirResponse(moved)


async def check_in(call: OperationCall) -> Response:
    assert call.resource_id is not None
    appointment, encounter = await booking.check_in(store_of(call.request), call.policy, call.resource_id)
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "appointment", "resource": appointment}, {"name": "encounter", "resource": encounter}],
    }
    return FhirResponse(parameters)


async def generate(call: OperationCall) -> Response:
    call.policy.require_system("u", "Slot")
    store, settings = store_of(call.request), settings_of(call.request)
    now = datetime.now(UTC)
    if call.resource_id is not None:
        schedule = await booking.existing(store, f"Schedule/{call.resource_id}", "Schedule")
        report = await generate_slots(store, schedule, now, settings.slot_horizon_days)
    else:
        report = await generate_all(store, now, settings.slot_horizon_days)
    parameter: list[dict[str, Any]] = [
        {"name": "written", "valueInteger": report.written},
        {"name": "removed", "valueInteger": report.removed},
        *({"name": "outside-hours", "valueReference": {"reference": r}} for r in report.outside),
    ]
    return FhirResponse({"resourceType": "Parameters", "parameter": parameter})


_APPOINTMENT_IN = Parameter("appointment-resource", "in", 0, "1", "Appointment", "A proposed Appointment from $find.")
_PATIENT_IN = Parameter("patient", "in", 0, "1", "Reference", "The patient the appointment is for.")
_APPOINTMENT_OUT = Parameter("return", "out", 1, "1", "Appointment", "The Appointment as stored.")

FIND = Operation(
    code="find",
    id="Appointment-find",
    title="Find potential appointments (IHE ITI-115)",
    description=(
        "Proposed Appointments (not stored) for the times in [start, end) when every actor the visit needs "
        "(the Schedule's actors, a requested location, the patient) is free, in start order, paged with _count."
    ),
    levels=(TYPE,),
    resource_types=("Appointment",),
    affects_state=False,
    parameters=(
        Parameter("start", "in", 1, "1", "dateTime", "Earliest start (times in the past are not proposed)."),
        Parameter("end", "in", 1, "1", "dateTime", "Latest end; at most 93 days after start."),
        Parameter("practitioner", "in", 0, "*", "Reference", "Any of these practitioners (or roles)."),
        Parameter("location", "in", 0, "*", "Reference", "Any of these locations, free at the same time."),
        Parameter("specialty", "in", 0, "*", "string", "Schedule.specialty."),
        Parameter("service-type", "in", 0, "*", "string", "The visit type (Schedule.serviceType); also `visit-type`."),
        Parameter("patient", "in", 0, "1", "Reference", "The patient, who must be free too."),
        Parameter("_count", "in", 0, "1", "integer", "Proposals per page."),
        Parameter("return", "out", 1, "1", "Bundle", "A searchset Bundle of proposed Appointments."),
    ),
    handler=find,
)

HOLD = Operation(
    code="hold",
    id="Appointment-hold",
    title="Hold an appointment (IHE ITI-116)",
    description="Hold a proposed appointment's time as a pending Appointment until it is booked or the hold lapses.",
    levels=(TYPE,),
    resource_types=("Appointment",),
    affects_state=True,
    parameters=(_APPOINTMENT_IN, _PATIENT_IN, _APPOINTMENT_OUT),
    handler=hold,
)

BOOK = Operation(
    code="book",
    id="Appointment-book",
    title="Book an appointment (IHE ITI-117)",
    description=(
        "Book a held appointment (`appointment-reference`, or invoked on it) or a proposed one "
        "(`appointment-resource`), with the patient attached; an `appointment-resource` with status "
        "cancelled cancels that appointment."
    ),
    levels=(TYPE, INSTANCE),
    resource_types=("Appointment",),
    affects_state=True,
    parameters=(
        Parameter("appointment-reference", "in", 0, "1", "Reference", "A held Appointment.", levels=(TYPE,)),
        _APPOINTMENT_IN,
        _PATIENT_IN,
        _APPOINTMENT_OUT,
    ),
    handler=book,
)

CANCEL = Operation(
    code="cancel",
    id="Appointment-cancel",
    title="Cancel an appointment",
    description="Cancel the appointment and free its Slots.",
    levels=(INSTANCE,),
    resource_types=("Appointment",),
    affects_state=True,
    parameters=(
        Parameter("reason", "in", 0, "1", "string", "Why (Appointment.cancelationReason.text)."),
        _APPOINTMENT_OUT,
    ),
    handler=cancel,
)

RESCHEDULE = Operation(
    code="reschedule",
    id="Appointment-reschedule",
    title="Reschedule an appointment",
    description="Move the appointment to a new time: the new time is booked and the old freed, or neither.",
    levels=(INSTANCE,),
    resource_types=("Appointment",),
    affects_state=True,
    parameters=(
        Parameter("start", "in", 1, "1", "instant", "New start."),
        Parameter("end", "in", 1, "1", "instant", "New end."),
        Parameter("slot", "in", 0, "*", "Reference", "The Slots of the new time."),
        _APPOINTMENT_OUT,
    ),
    handler=reschedule,
)

CHECK_IN = Operation(
    code="check-in",
    id="Appointment-check-in",
    title="Check a patient in",
    description="Mark a booked appointment arrived and open its Encounter (Encounter.appointment).",
    levels=(INSTANCE,),
    resource_types=("Appointment",),
    affects_state=True,
    parameters=(
        Parameter("appointment", "out", 1, "1", "Appointment", "The arrived Appointment."),
        Parameter("encounter", "out", 1, "1", "Encounter", "The new Encounter."),
    ),
    handler=check_in,
)

GENERATE_SLOTS = Operation(
    code="generate-slots",
    id="Schedule-generate-slots",
    title="Generate slots now",
    description=(
        "Bring the Slots of one Schedule (or of all) in line with its working hours now, as the generate-slots "
        "duty does; reports the bookings left outside the hours. Needs a system/ scope."
    ),
    levels=(TYPE, INSTANCE),
    resource_types=("Schedule",),
    affects_state=True,
    parameters=(
        Parameter("written", "out", 1, "1", "integer", "Slots created or changed."),
        Parameter("removed", "out", 1, "1", "integer", "Free Slots removed."),
        Parameter("outside-hours", "out", 0, "*", "Reference", "Bookings outside the hours (each also a Task)."),
    ),
    handler=generate,
)

SCHEDULING_OPERATIONS = (FIND, HOLD, BOOK, CANCEL, RESCHEDULE, CHECK_IN, GENERATE_SLOTS)
__all__ = ["SCHEDULING_OPERATIONS"]
