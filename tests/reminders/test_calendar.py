"""The practitioners' iCalendar feeds against the real server: a token made by `$calendar-token` opens the
feed of the practitioner's appointments without patient data; revoked or unknown, it is a 404."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import icalendar

from fhir_server.config import Settings
from tests.reminders.conftest import appointment, create, on_database, patient, place


def token_for(fhir: httpx.Client, practitioner_id: str, **parameters: bool) -> httpx.Response:
    body = {"resourceType": "Parameters", "parameter": [{"name": k, "valueBoolean": v} for k, v in parameters.items()]}
    return fhir.post(f"/Practitioner/{practitioner_id}/$calendar-token", json=body)


def values(answer: httpx.Response) -> dict[str, object]:
    assert answer.status_code == 200, answer.text
    return {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in answer.json()["parameter"]}


def test_a_feed_lists_the_practitioners_appointments_without_patient_data(
    fhir: httpx.Client, settings: Settings
) -> None:
    who = patient(fhir)
    doctor, location = place(fhir)
    start = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    booked = create(fhir, appointment(who, doctor, location, start))
    cancelled = create(fhir, appointment(who, doctor, location, start + timedelta(hours=1), status="cancelled"))
    made = values(token_for(fhir, doctor["id"]))
    token, url = str(made["token"]), str(made["url"])
    assert url.endswith(f"/calendar/{token}.ics")
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(answer.content)
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {f"{booked['id']}@fhir-server"}
    assert f"{cancelled['id']}@fhir-server" not in events
    event = events[f"{booked['id']}@fhir-server"]
    assert event.decoded("dtstart") == start and str(event["location"]) == "Praxis Mitte"
    assert str(event["status"]) == "CONFIRMED"
    assert who["name"][0]["family"].encode() not in answer.content and who["id"].encode() not in answer.content
    stored = on_database(settings, lambda db: db.calendar_tokens.practitioner(token))
    assert stored == f"Practitioner/{doctor['id']}"
    raw = on_database(settings, lambda db: db.client[settings.database]["calendar_tokens"].find_one({"_id": token}))
    assert raw is None  # only the hash is kept
    hashed = hashlib.sha256(token.encode()).hexdigest()
    assert on_database(settings, lambda db: db.client[settings.database]["calendar_tokens"].find_one({"_id": hashed}))


def test_a_revoked_token_is_a_404(fhir: httpx.Client) -> None:
    doctor, _location = place(fhir)
    first, second = (str(values(token_for(fhir, doctor["id"]))["url"]) for _n in range(2))
    assert httpx.get(first).status_code == 200
    assert values(token_for(fhir, doctor["id"], revoke=True)) == {"revoked": 2}
    for url in (first, second):
        gone = httpx.get(url)
        assert gone.status_code == 404
        assert gone.json()["resourceType"] == "OperationOutcome"


def test_an_unknown_token_and_bad_calls_are_refused(fhir: httpx.Client) -> None:
    root = str(fhir.base_url).removesuffix("/fhir/").removesuffix("/fhir")
    assert httpx.get(f"{root}/calendar/not-a-token.ics").status_code == 404
    assert token_for(fhir, "no-such-practitioner").status_code == 404
    doctor, _location = place(fhir)
    maybe = {"resourceType": "Parameters", "parameter": [{"name": "revoke", "valueString": "maybe"}]}
    bad = fhir.post(f"/Practitioner/{doctor['id']}/$calendar-token", json=maybe)
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["Parameters.parameter"]
    assert fhir.get(f"/Practitioner/{doctor['id']}/$calendar-token").status_code == 405
