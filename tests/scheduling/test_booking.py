"""$find, $hold, $book, cancel, reschedule and check-in over HTTP against the real server."""

from __future__ import annotations

import httpx

from tests.scheduling.helpers import (
    VISIT_SYSTEM,
    book,
    find,
    location,
    outcome,
    patient,
    proposals,
    scheduled,
    tomorrow,
)


def test_find_proposes_the_free_slots_of_the_practitioner_in_start_order(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    found = proposals(client, start=start, end=end, practitioner=actor, _count="100")
    assert len(found) == 6  # 09:00-12:00 in 30-minute slots
    starts = [p["start"] for p in found]
    assert starts == sorted(starts)
    assert all(p["status"] == "proposed" for p in found)
    assert {p["participant"][0]["actor"]["reference"] for p in found} == {actor}


def test_find_pages_with_count(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    first = find(client, start=start, end=end, practitioner=actor, _count="4").json()
    assert len(first["entry"]) == 4
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = httpx.get(following, timeout=30).json()
    assert len(second["entry"]) == 2
    assert not [link for link in second["link"] if link["relation"] == "next"]
    assert first["entry"][-1]["resource"]["start"] < second["entry"][0]["resource"]["start"]


def test_book_then_the_time_is_gone_and_a_second_booking_is_refused(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    first = proposals(client, start=start, end=end, practitioner=actor)[0]
    booked = book(client, first, patient(client))
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    assert appointment["status"] == "booked"
    slot = client.get(f"/{first['slot'][0]['reference']}").json()
    assert slot["status"] == "busy"
    assert first["start"] not in {p["start"] for p in proposals(client, start=start, end=end, practitioner=actor)}
    issue = outcome(book(client, first, patient(client)), 409)
    assert f"Appointment/{appointment['id']}" in issue["diagnostics"]
    assert issue["expression"][0].startswith("Appointment.participant[")


def test_hold_then_book_attaches_the_patient(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    proposal = proposals(client, start=start, end=end, practitioner=actor)[0]
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "appointment-resource", "resource": proposal}]}
    held = client.post("/Appointment/$hold", json=parameters)
    assert held.status_code == 201, held.text
    hold = held.json()
    assert hold["status"] == "pending"
    assert client.get(f"/{proposal['slot'][0]['reference']}").json()["status"] == "busy-tentative"
    assert proposal["start"] not in {p["start"] for p in proposals(client, start=start, end=end, practitioner=actor)}
    who = patient(client)
    booking = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "appointment-reference", "valueReference": {"reference": f"Appointment/{hold['id']}"}},
            {"name": "patient", "valueReference": {"reference": who}},
        ],
    }
    booked = client.post("/Appointment/$book", json=booking)
    assert booked.status_code == 200, booked.text
    assert booked.json()["status"] == "booked"
    assert who in {p["actor"]["reference"] for p in booked.json()["participant"]}
    assert "extension" not in booked.json()
    assert client.get(f"/{proposal['slot'][0]['reference']}").json()["status"] == "busy"


def test_cancel_frees_the_slot_and_a_cancelled_appointment_cannot_be_booked(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    proposal = proposals(client, start=start, end=end, practitioner=actor)[0]
    appointment = book(client, proposal, patient(client)).json()
    reason = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "patient called"}]}
    cancelled = client.post(f"/Appointment/{appointment['id']}/$cancel", json=reason)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert client.get(f"/{proposal['slot'][0]['reference']}").json()["status"] == "free"
    assert proposal["start"] in {p["start"] for p in proposals(client, start=start, end=end, practitioner=actor)}
    issue = outcome(client.post(f"/Appointment/{appointment['id']}/$book"), 422)
    assert issue["expression"] == ["Appointment.status"]
    revived = {**cancelled.json(), "status": "booked"}
    issue = outcome(client.put(f"/Appointment/{appointment['id']}", json=revived), 422)
    assert issue["expression"] == ["Appointment.status"]


def test_reschedule_moves_the_booking_atomically(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    first, second, third = proposals(client, start=start, end=end, practitioner=actor)[:3]
    appointment = book(client, first, patient(client)).json()
    other = book(client, third, patient(client)).json()

    def move(to: dict) -> httpx.Response:
        parameters = {"resourceType": "Parameters", "parameter": [
            {"name": "start", "valueInstant": to["start"]}, {"name": "end", "valueInstant": to["end"]},
            {"name": "slot", "valueReference": to["slot"][0]}]}  # fmt: skip
        return client.post(f"/Appointment/{appointment['id']}/$reschedule", json=parameters)

    issue = outcome(move(third), 409)  # taken: nothing changes
    assert f"Appointment/{other['id']}" in issue["diagnostics"]
    assert client.get(f"/Appointment/{appointment['id']}").json()["start"] == first["start"]
    assert client.get(f"/{first['slot'][0]['reference']}").json()["status"] == "busy"
    moved = move(second)
    assert moved.status_code == 200, moved.text
    assert moved.json()["start"] == second["start"]
    assert client.get(f"/{first['slot'][0]['reference']}").json()["status"] == "free"
    assert client.get(f"/{second['slot'][0]['reference']}").json()["status"] == "busy"


def test_check_in_opens_an_encounter_and_noshow_is_a_status(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    start, end = tomorrow()
    first, second = proposals(client, start=start, end=end, practitioner=actor)[:2]
    who = patient(client)
    appointment = book(client, first, who).json()
    checked = client.post(f"/Appointment/{appointment['id']}/$check-in")
    assert checked.status_code == 200, checked.text
    parts = {p["name"]: p["resource"] for p in checked.json()["parameter"]}
    assert parts["appointment"]["status"] == "arrived"
    encounter = client.get(f"/Encounter/{parts['encounter']['id']}").json()
    assert encounter["appointment"] == [{"reference": f"Appointment/{appointment['id']}"}]
    assert encounter["subject"] == {"reference": who}
    again = outcome(client.post(f"/Appointment/{appointment['id']}/$check-in"), 422)
    assert again["expression"] == ["Appointment.status"]
    missed = book(client, second, patient(client)).json()
    patch = [{"op": "replace", "path": "/status", "value": "noshow"}]
    response = client.patch(
        f"/Appointment/{missed['id']}", json=patch, headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 200, response.text
    noshows = client.get("/Appointment", params={"status": "noshow", "actor": actor}).json()
    assert [e["resource"]["id"] for e in noshows["entry"]] == [missed["id"]]


def test_find_by_visit_type_and_unknown_visit_type(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client, visit="vaccination")
    start, end = tomorrow()
    found = proposals(
        client, start=start, end=end, practitioner=actor, **{"service-type": f"{VISIT_SYSTEM}|vaccination"}
    )
    assert len(found) == 6
    issue = outcome(find(client, start=start, end=end, **{"service-type": f"{VISIT_SYSTEM}|nothing-offers-this"}), 400)
    assert issue["expression"] == ["service-type"]


def test_find_with_a_room_proposes_times_when_the_room_is_free_too(client: httpx.Client) -> None:
    actor, _schedule = scheduled(client)
    room = location(client)
    start, end = tomorrow()
    alone = proposals(client, start=start, end=end, practitioner=actor)
    taken = {"resourceType": "Appointment", "status": "booked", "start": alone[0]["start"], "end": alone[0]["end"],
             "participant": [{"actor": {"reference": room}, "status": "accepted"}]}  # fmt: skip
    assert client.post("/Appointment", json=taken).status_code == 201  # the room is used by another visit
    together = proposals(client, start=start, end=end, practitioner=actor, location=room)
    assert [p["start"] for p in together] == [p["start"] for p in alone[1:]]
    assert all({actor, room} <= {x["actor"]["reference"] for x in p["participant"]} for p in together)
    booked = book(client, together[0], patient(client))
    assert booked.status_code == 201, booked.text
    assert together[0]["start"] not in {
        p["start"] for p in proposals(client, start=start, end=end, location=room, practitioner=actor)
    }
