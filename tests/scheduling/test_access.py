"""Who may book: front desk for anyone, a patient token only for its patient and seeing only free/busy;
every booking audited with who made it."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from fhir_server.storage import EmbeddedDatabase
from tests.audit.records import audit_events, by_client, interaction, whats
from tests.auth_server import AUTH_DATABASE
from tests.scheduling.helpers import book, outcome, patient, proposals, scheduled, tomorrow

FRONT_DESK = (
    " ".join(f"user/{t}.cruds" for t in ("Patient", "Appointment", "AppointmentResponse", "Schedule", "Slot"))
    + " user/Practitioner.rs user/Location.rs user/Encounter.rs"
)


def test_a_patient_books_only_for_itself_and_sees_only_free_busy(
    connect: Callable[..., httpx.Client], database: EmbeddedDatabase
) -> None:
    admin = connect("user/*.cruds system/*.cruds", role="admin")
    actor, _schedule = scheduled(admin)
    me, other = patient(admin), patient(admin)
    mine = connect(
        "patient/*.rs patient/Appointment.c", role="patient", patient=me.split("/")[1], client_id="self-booking"
    )
    start, end = tomorrow()
    first, second = proposals(admin, start=start, end=end, practitioner=actor)[:2]
    theirs = book(admin, first, other).json()
    seen = proposals(mine, start=start, end=end, practitioner=actor)
    assert first["start"] not in {p["start"] for p in seen} and second["start"] in {p["start"] for p in seen}
    assert all(p["participant"][0]["actor"]["reference"] == actor for p in seen)  # nobody else's appointment
    assert mine.get(f"/Appointment/{theirs['id']}").status_code in (403, 404)
    assert mine.get("/Appointment", params={"actor": actor}).json().get("entry") is None
    outcome(book(mine, second, other), 403)
    outcome(mine.get("/Appointment/$find", params={"start": start, "end": end, "patient": other}), 403)
    booked = book(mine, second, me)
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    assert mine.get(f"/Appointment/{appointment['id']}").json()["status"] == "booked"
    written = {"$in": [re.compile(f"^(Appointment/{appointment['id']}|{second['slot'][0]['reference']})/_history/")]}
    events = audit_events(
        database.uri, AUTH_DATABASE, {**by_client("self-booking"), "event.entity.what.reference": written}, at_least=2
    )
    assert sorted((interaction(e), whats(e)[0].split("/")[0]) for e in events) == [
        ("create", "Appointment"),
        ("update", "Slot"),
    ]
    assert mine.post(f"/Appointment/{appointment['id']}/$check-in").status_code == 403


def test_front_desk_books_for_anyone_and_checks_in(connect: Callable[..., httpx.Client]) -> None:
    admin = connect("user/*.cruds system/*.cruds", role="admin")
    actor, _schedule = scheduled(admin)
    desk = connect(FRONT_DESK, role="front-desk")
    start, end = tomorrow()
    proposal = proposals(desk, start=start, end=end, practitioner=actor)[0]
    booked = book(desk, proposal, patient(admin))
    assert booked.status_code == 201, booked.text
    checked = desk.post(f"/Appointment/{booked.json()['id']}/$check-in")
    assert checked.status_code == 200, checked.text
    nobody = connect("user/Observation.rs")
    outcome(nobody.get("/Appointment/$find", params={"start": start, "end": end}), 403)
    outcome(book(nobody, proposal, patient(admin)), 403)
