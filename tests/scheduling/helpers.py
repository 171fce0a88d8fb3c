"""Building blocks of the scheduling tests: a practitioner with working hours, its slots, a patient."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from fhir_server.scheduling.extensions import AVAILABILITY, EXCEPTION, OVERBOOKING, SLOT_MINUTES, TIMEZONE

VISIT_SYSTEM = "http://example.org/visit-type"


def hours(rule: str = "FREQ=DAILY", start: str = "09:00:00", end: str = "12:00:00") -> dict[str, Any]:
    return {
        "url": AVAILABILITY,
        "extension": [
            {"url": "rrule", "valueString": rule},
            {"url": "start", "valueTime": start},
            {"url": "end", "valueTime": end},
        ],
    }


def schedule_body(
    actors: list[str], zone: str = "Europe/Berlin", minutes: int = 30, overbooking: int = 0,
    visit: str = "checkup", closed: list[dict[str, str]] | None = None, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    extensions: list[dict[str, Any]] = [
        {"url": TIMEZONE, "valueCode": zone},
        hours(),
        {"url": SLOT_MINUTES, "valuePositiveInt": minutes},
    ]
    if overbooking:
        extensions.append({"url": OVERBOOKING, "valueUnsignedInt": overbooking})
    extensions += [{"url": EXCEPTION, "valuePeriod": period} for period in closed or []]
    return {
        "resourceType": "Schedule",
        "active": True,
        "actor": [{"reference": actor} for actor in actors],
        "serviceType": [{"coding": [{"system": VISIT_SYSTEM, "code": visit}]}],
        "extension": extensions,
        **extra,
    }


def created(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/{body['resourceType']}", json=body)
    assert response.status_code == 201, response.text
    resource: dict[str, Any] = response.json()
    return resource


def practitioner(client: httpx.Client) -> str:
    body = {"resourceType": "Practitioner", "name": [{"family": f"Doc{uuid.uuid4().hex[:6]}"}]}
    return f"Practitioner/{created(client, body)['id']}"


def patient(client: httpx.Client) -> str:
    body = {"resourceType": "Patient", "name": [{"family": f"Pat{uuid.uuid4().hex[:6]}"}], "birthDate": "1980-02-03"}
    return f"Patient/{created(client, body)['id']}"


def location(client: httpx.Client) -> str:
    return f"Location/{created(client, {'resourceType': 'Location', 'name': f'Room {uuid.uuid4().hex[:4]}'})['id']}"


def generate(client: httpx.Client, schedule_id: str) -> dict[str, Any]:
    response = client.post(f"/Schedule/{schedule_id}/$generate-slots")
    assert response.status_code == 200, response.text
    return {p["name"]: p.get("valueInteger", p.get("valueReference")) for p in response.json()["parameter"]}


def scheduled(client: httpx.Client, **options: Any) -> tuple[str, dict[str, Any]]:
    """A new practitioner with a Schedule (mornings 09:00-12:00 Berlin, 30-minute slots) and its slots."""
    actor = practitioner(client)
    schedule = created(client, schedule_body([actor], **options))
    generate(client, schedule["id"])
    return actor, schedule


def tomorrow() -> tuple[str, str]:
    day = (datetime.now(UTC) + timedelta(days=1)).date()
    return f"{day}T00:00:00Z", f"{day + timedelta(days=1)}T00:00:00Z"


def find(client: httpx.Client, **params: str) -> httpx.Response:
    return client.get("/Appointment/$find", params=params)


def proposals(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    response = find(client, **params)
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def book(client: httpx.Client, proposal: dict[str, Any], patient_reference: str) -> httpx.Response:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "appointment-resource", "resource": proposal},
            {"name": "patient", "valueReference": {"reference": patient_reference}},
        ],
    }
    return client.post("/Appointment/$book", json=parameters)


def outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]
