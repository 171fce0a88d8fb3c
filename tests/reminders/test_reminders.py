"""Reminders against the real server and database, an aiosmtpd SMTP server and a local SMS gateway: planned
with the booking on every write path, cancelled and re-timed with it, sent once in the patient's language
and time zone with an .ics, recorded as Communications (not-done when the patient cannot be reached)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar

from fhir_server.config import Settings
from fhir_server.i18n.formatting import format_datetime
from fhir_server.reminders.contact import OPT_OUT
from fhir_server.reminders.dispatch import remind
from fhir_server.storage.database import Database
from fhir_server.storage.reminders import CANCELLED, NOT_SENT, SCHEDULED, SENT, Reminder
from tests.outbound import Gateway, SmtpServer, wait_for
from tests.reminders.conftest import SMS_VISIT, appointment, create, on_database, patient, place


def reminders(settings: Settings, appointment_id: str) -> list[Reminder]:
    found: list[Reminder] = on_database(
        settings, lambda db: db.reminders.of_appointment(f"Appointment/{appointment_id}")
    )
    return found


def by_rule(settings: Settings, appointment_id: str) -> dict[str, Reminder]:
    return {r.rule: r for r in reminders(settings, appointment_id)}


def communications(fhir: httpx.Client, who: dict[str, Any]) -> list[dict[str, Any]]:
    """The Communications about the patient `who` (each test books one appointment per patient)."""
    answer = fhir.get("/Communication", params={"subject": f"Patient/{who['id']}"})
    assert answer.status_code == 200, answer.text
    return [entry["resource"] for entry in answer.json().get("entry", [])]


def soon(hours: float) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


def test_a_booking_is_reminded_once_in_the_patients_language_and_time_zone(
    fhir: httpx.Client, settings: Settings, smtp: SmtpServer
) -> None:
    who = patient(fhir, language="de", zone="Europe/Berlin")
    doctor, location = place(fhir)
    start = soon(30)  # the 48 h reminder is due at once, the 2 h one later
    booked = create(fhir, appointment(who, doctor, location, start))
    planned = by_rule(settings, booked["id"])
    assert set(planned) == {"48h", "2h"}
    assert planned["2h"].status == SCHEDULED and planned["2h"].due == start - timedelta(hours=2)
    wait_for(lambda: by_rule(settings, booked["id"])["48h"].status == SENT, "the 48 h reminder sent")
    [mail] = smtp.mailbox.to(who["telecom"][0]["value"])
    when = format_datetime(start, "de", ZoneInfo("Europe/Berlin"))
    assert mail["Subject"] == f"Erinnerung: Ihr Termin am {when}"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    for told in (when, "Europe/Berlin", "Dr. Weber", "Praxis Mitte", "Hauptstraße 1, 10115 Berlin", "+49 30 5555"):
        assert told in text
    [ics] = [part for part in mail.iter_attachments() if part.get_content_type() == "text/calendar"]
    [event] = icalendar.Calendar.from_ical(ics.get_content()).walk("VEVENT")
    assert event.decoded("dtstart") == start and event.decoded("dtend") == start + timedelta(minutes=20)
    assert str(event["summary"]) == "Termin bei Dr. Weber" and "Praxis Mitte" in str(event["location"])
    [done] = communications(fhir, who)
    assert done["status"] == "completed" and done["about"] == [{"reference": f"Appointment/{booked['id']}"}]
    assert done["medium"][0]["coding"][0]["code"] == "EMAILWRIT" and "sent" in done
    assert by_rule(settings, booked["id"])["2h"].status == SCHEDULED


def test_cancelling_cancels_the_reminders(fhir: httpx.Client, settings: Settings) -> None:
    who = patient(fhir)
    doctor, location = place(fhir)
    booked = create(fhir, appointment(who, doctor, location, soon(72)))
    assert {r.status for r in reminders(settings, booked["id"])} == {SCHEDULED}
    cancelled = fhir.put(f"/Appointment/{booked['id']}", json={**booked, "status": "cancelled"})
    assert cancelled.status_code == 200, cancelled.text
    assert {r.status for r in reminders(settings, booked["id"])} == {CANCELLED}


def test_deleting_cancels_the_reminders(fhir: httpx.Client, settings: Settings) -> None:
    who = patient(fhir)
    doctor, location = place(fhir)
    booked = create(fhir, appointment(who, doctor, location, soon(72)))
    assert fhir.delete(f"/Appointment/{booked['id']}").status_code in (200, 204)
    assert {r.status for r in reminders(settings, booked["id"])} == {CANCELLED}


def test_moving_re_times_the_reminders_by_patch(fhir: httpx.Client, settings: Settings) -> None:
    who = patient(fhir)
    doctor, location = place(fhir)
    booked = create(fhir, appointment(who, doctor, location, soon(72)))
    later = soon(96)
    patch = [{"op": "replace", "path": "/start", "value": later.isoformat().replace("+00:00", "Z")},
             {"op": "replace", "path": "/end", "value": (later + timedelta(minutes=20)).isoformat()}]  # fmt: skip
    moved = fhir.patch(
        f"/Appointment/{booked['id']}", json=patch, headers={"Content-Type": "application/json-patch+json"}
    )
    assert moved.status_code == 200, moved.text
    now_planned = [r for r in reminders(settings, booked["id"]) if r.status == SCHEDULED]
    assert {(r.rule, r.due) for r in now_planned} == {
        ("48h", later - timedelta(hours=48)),
        ("2h", later - timedelta(hours=2)),
    }
    assert len([r for r in reminders(settings, booked["id"]) if r.status == CANCELLED]) == 2


def test_a_transaction_books_and_a_pending_appointment_waits(fhir: httpx.Client, settings: Settings) -> None:
    who = patient(fhir)
    doctor, location = place(fhir)
    pending = appointment(who, doctor, location, soon(72), status="pending")
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"resource": pending, "request": {"method": "POST", "url": "Appointment"}}]}  # fmt: skip
    answer = fhir.post("", json=bundle)
    assert answer.status_code == 200, answer.text
    appointment_id = answer.json()["entry"][0]["response"]["location"].split("/")[1]
    assert reminders(settings, appointment_id) == []
    booked = {**pending, "id": appointment_id, "status": "booked"}
    request = {"method": "PUT", "url": f"Appointment/{appointment_id}"}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": booked, "request": request}]}
    assert fhir.post("", json=bundle).status_code == 200
    assert {r.status for r in reminders(settings, appointment_id)} == {SCHEDULED}


def test_cancelled_then_booked_again_at_the_same_time_is_reminded_again(fhir: httpx.Client, settings: Settings) -> None:
    who = patient(fhir)
    doctor, location = place(fhir)
    wanted = appointment(who, doctor, location, soon(72))
    booked = create(fhir, wanted)
    assert fhir.put(f"/Appointment/{booked['id']}", json={**booked, "status": "cancelled"}).status_code == 200
    assert {r.status for r in reminders(settings, booked["id"])} == {CANCELLED}
    again = create(fhir, wanted)  # a cancelled appointment is never booked again (scheduling): a new one is
    assert {r.status for r in reminders(settings, again["id"])} == {SCHEDULED}


def test_an_opted_out_patient_gets_none_and_that_is_recorded(
    fhir: httpx.Client, settings: Settings, smtp: SmtpServer
) -> None:
    who = patient(fhir, extension=[{"url": OPT_OUT, "valueBoolean": True}])
    doctor, location = place(fhir)
    booked = create(fhir, appointment(who, doctor, location, soon(1)))
    wait_for(lambda: [r.status for r in reminders(settings, booked["id"])] == [NOT_SENT], "the reminder not sent")
    [record] = communications(fhir, who)
    assert record["status"] == "not-done" and record["statusReason"]["coding"][0]["code"] == "patient-objection"
    assert smtp.mailbox.to(who["telecom"][0]["value"]) == []


def test_a_patient_without_an_address_gets_none_and_that_is_recorded(fhir: httpx.Client, settings: Settings) -> None:
    who = patient(fhir, telecom=[{"system": "phone", "value": "+49 30 1", "use": "home"}])
    doctor, location = place(fhir)
    booked = create(fhir, appointment(who, doctor, location, soon(1), visit=SMS_VISIT))
    wait_for(lambda: [r.status for r in reminders(settings, booked["id"])] == [NOT_SENT], "the reminder not sent")
    [record] = communications(fhir, who)
    assert record["status"] == "not-done" and record["statusReason"]["coding"][0]["code"] == "invalid-phone-number"


def test_an_sms_reminder_arrives_once_after_the_gateway_failed(
    fhir: httpx.Client, settings: Settings, gateway: Gateway
) -> None:
    number = f"+3460{datetime.now(UTC).strftime('%H%M%S%f')}"
    who = patient(fhir, language="es", telecom=[{"system": "phone", "use": "mobile", "value": number}])
    doctor, location = place(fhir)
    gateway.fail = 2
    start = soon(3)
    booked = create(fhir, appointment(who, doctor, location, start, visit=SMS_VISIT))
    wait_for(lambda: [r.status for r in reminders(settings, booked["id"])] == [SENT], "the SMS reminder sent")
    [sms] = gateway.to(number)
    assert sms["text"].startswith(f"Recordatorio: cita el {format_datetime(start, 'es', ZoneInfo('UTC'))}")
    [done] = communications(fhir, who)
    assert done["status"] == "completed" and done["medium"][0]["coding"][0]["code"] == "SMSWRIT"


def test_rounds_run_again_and_at_once_send_once(fhir: httpx.Client, settings: Settings, smtp: SmtpServer) -> None:
    who = patient(fhir)
    doctor, location = place(fhir)
    booked = create(fhir, appointment(who, doctor, location, soon(1)))

    async def rounds(db: Database) -> None:  # beside the server's own duty
        for _n in range(3):
            await remind(db, settings)

    on_database(settings, rounds)
    wait_for(lambda: [r.status for r in reminders(settings, booked["id"])] == [SENT], "the reminder sent")
    on_database(settings, rounds)
    assert len(smtp.mailbox.to(who["telecom"][0]["value"])) == 1
    assert len(communications(fhir, who)) == 1
