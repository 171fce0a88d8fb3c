"""Every bad scheduling request: a 4xx OperationOutcome naming the element, and nothing written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from fhir_server.scheduling.extensions import HOLD_EXPIRES
from tests.scheduling.helpers import (
    book,
    created,
    find,
    hours,
    outcome,
    patient,
    practitioner,
    proposals,
    schedule_body,
    scheduled,
    tomorrow,
)


def _count(client: httpx.Client, resource_type: str, **params: str) -> int:
    return len(client.get(f"/{resource_type}", params={**params, "_count": "100"}).json().get("entry", []))


def test_find_start_after_end(client: httpx.Client) -> None:
    start, end = tomorrow()
    assert outcome(find(client, start=end, end=start), 400)["expression"] == ["end"]
    assert outcome(find(client, end=end), 400)["expression"] == ["start"]
    assert outcome(find(client, start="tomorrow", end=end), 400)["expression"] == ["start"]


def test_find_unknown_practitioner(client: httpx.Client) -> None:
    start, end = tomorrow()
    issue = outcome(find(client, start=start, end=end, practitioner=f"Practitioner/nobody{uuid.uuid4().hex[:6]}"), 400)
    assert issue["expression"] == ["practitioner"] and issue["code"] == "not-found"


def test_book_unknown_practitioner_writes_nothing(client: httpx.Client) -> None:
    start, _end = tomorrow()
    who = patient(client)
    ghost = f"Practitioner/ghost{uuid.uuid4().hex[:6]}"
    proposal = {"resourceType": "Appointment", "status": "proposed", "start": start.replace("T00", "T09"),
                "end": start.replace("T00", "T10"), "participant": [{"actor": {"reference": ghost}}]}  # fmt: skip
    issue = outcome(book(client, proposal, who), 400)
    assert issue["expression"] == ["Appointment.participant[0].actor"]
    assert _count(client, "Appointment", patient=who) == 0


def test_book_in_the_past_and_backwards_times(client: httpx.Client) -> None:
    actor, who = practitioner(client), patient(client)
    past = datetime.now(UTC) - timedelta(days=1)
    proposal = {"resourceType": "Appointment", "status": "proposed", "start": past.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end": (past + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "participant": [{"actor": {"reference": actor}, "status": "accepted"}]}  # fmt: skip
    assert outcome(book(client, proposal, who), 400)["expression"] == ["Appointment.start"]
    start, _end = tomorrow()
    backwards = {**proposal, "start": start.replace("T00", "T10"), "end": start.replace("T00", "T09")}
    assert outcome(book(client, backwards, who), 400)["expression"] == ["Appointment.end"]
    assert outcome(client.post("/Appointment", json={**backwards, "status": "booked"}), 400)["expression"] == [
        "Appointment.end"
    ]
    assert _count(client, "Appointment", patient=who) == 0


def test_book_a_visit_type_no_schedule_offers(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    proposal = proposals(client, start=start, end=end, practitioner=actor)[0]
    who = patient(client)
    other = {**proposal, "serviceType": [{"coding": [{"system": "http://example.org/visit-type", "code": "surgery"}]}]}
    assert outcome(book(client, other, who), 400)["expression"] == ["Appointment.serviceType[0]"]
    assert _count(client, "Appointment", patient=who) == 0


def test_book_an_expired_hold(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    proposal = proposals(client, start=start, end=end, practitioner=actor)[0]
    lapsed = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    hold = created(client, {**{k: v for k, v in proposal.items() if k != "id"}, "status": "pending",
                            "participant": [{**p, "status": "tentative"} for p in proposal["participant"]],
                            "extension": [{"url": HOLD_EXPIRES, "valueInstant": lapsed}]})  # fmt: skip
    issue = outcome(client.post(f"/Appointment/{hold['id']}/$book", params={"patient": patient(client)}), 422)
    assert issue["expression"] == ["Appointment.extension"]
    assert client.get(f"/Appointment/{hold['id']}").json()["status"] == "pending"
    assert book(client, proposal, patient(client)).status_code == 201  # a lapsed hold holds nothing


def test_book_without_patient_or_appointment(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    proposal = proposals(client, start=start, end=end, practitioner=actor)[0]
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "appointment-resource", "resource": proposal}]}
    assert outcome(client.post("/Appointment/$book", json=parameters), 400)["expression"] == ["patient"]
    assert outcome(client.post("/Appointment/$book", json={"resourceType": "Parameters"}), 400)["expression"] == [
        "appointment-resource"
    ]
    assert client.get("/Appointment/$book").status_code == 405


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda s: s["extension"][0].update(valueCode="Mars/Olympus_Mons"), "Schedule.extension[0].valueCode"),
        (lambda s: s["extension"][0].update(valueCode="../../etc/passwd"), "Schedule.extension[0].valueCode"),
        (
            lambda s: s["extension"].__setitem__(1, hours("FREQ=FORTNIGHTLY")),
            "Schedule.extension[1].extension[0].valueString",
        ),
        (
            lambda s: s["extension"].__setitem__(1, hours("FREQ=HOURLY")),
            "Schedule.extension[1].extension[0].valueString",
        ),
        (
            lambda s: s["extension"].__setitem__(1, hours("FREQ=WEEKLY;BYDAY=XX")),
            "Schedule.extension[1].extension[0].valueString",
        ),
        (
            lambda s: s["extension"].__setitem__(1, hours(start="9 o'clock")),
            "Schedule.extension[1].extension[1].valueTime",
        ),
        (lambda s: s["extension"][2].update(valuePositiveInt=0), "Schedule.extension[2].valuePositiveInt"),
    ],
)
def test_malformed_working_hours_are_refused(client: httpx.Client, change, where: str) -> None:  # type: ignore[no-untyped-def]
    actor = practitioner(client)
    body = schedule_body([actor])
    change(body)
    issue = outcome(client.post("/Schedule", json=body), 400)
    assert issue["expression"] == [where]
    assert _count(client, "Schedule", actor=actor) == 0
    good = created(client, schedule_body([actor]))
    assert outcome(client.put(f"/Schedule/{good['id']}", json={**body, "id": good["id"]}), 400)["expression"] == [where]
