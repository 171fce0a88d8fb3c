"""A server sending reminders to a real aiosmtpd server and a local SMS gateway, and helpers to book."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fhir_server.config import Settings
from fhir_server.storage.database import Database
from fhir_server.storage.embedded import EmbeddedDatabase
from tests.conftest import FHIR_JSON, ServerProcess
from tests.outbound import Gateway, SmtpServer, run

DATABASE = "fhir_reminders"
SMS_VISIT = "SMSONLY"
RULES = {
    "default": [
        {"id": "48h", "before": "48h", "channels": ["email"]},
        {"id": "2h", "before": "2h", "channels": ["email"]},
    ],
    "visitTypes": {f"urn:test:visit|{SMS_VISIT}": [{"id": "1d", "before": "1d", "channels": ["sms"]}]},
}


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    server = SmtpServer(tmp_path_factory.mktemp("smtp"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    server = Gateway()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def settings(database: EmbeddedDatabase, smtp: SmtpServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The settings of the reminder server, for the calls a test makes itself (a duty round)."""
    rules = tmp_path_factory.mktemp("rules") / "rules.json"
    rules.write_text(json.dumps(RULES))
    return Settings(mongodb_uri=database.uri, database=DATABASE, reminder_rules_file=rules,
                    reminder_phone="+49 30 1234", smtp_from="Practice <reminders@practice.example>")  # fmt: skip


@pytest.fixture(scope="module")
def fhir(
    settings: Settings, smtp: SmtpServer, gateway: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    env = {**smtp.env(), **gateway.env(), "FHIR_REMINDER_RULES_FILE": str(settings.reminder_rules_file),
           "FHIR_REMINDER_PHONE": settings.reminder_phone, "FHIR_MESSAGE_RETRY_SECONDS": "0.2"}  # fmt: skip
    log = tmp_path_factory.mktemp("server") / "server.log"
    assert settings.mongodb_uri is not None
    process = ServerProcess(["--mongodb-uri", settings.mongodb_uri, "--database", DATABASE], log, env=env)
    with httpx.Client(base_url=f"{process.base}/fhir", headers=FHIR_JSON, timeout=30) as client:
        yield client
    process.stop()


def on_database(settings: Settings, call: Any) -> Any:
    """`call(database)` on a Database of the test server's."""

    async def go() -> Any:
        async with Database.open(settings, indexes=False) as opened:
            return await call(opened)

    return run(go())


def create(fhir: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = fhir.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def patient(fhir: httpx.Client, *, language: str = "en", zone: str | None = None, **extra: Any) -> dict[str, Any]:
    """A new Patient with an email address of its own (unless `telecom` says otherwise)."""
    tag = uuid.uuid4().hex[:12]
    body: dict[str, Any] = {
        "resourceType": "Patient", "name": [{"given": ["Ana"], "family": f"Test{tag}"}],
        "telecom": [{"system": "email", "value": f"{tag}@patients.example"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": language}]},
                           "preferred": True}],
    }  # fmt: skip
    if zone:
        body["extension"] = [{"url": "http://hl7.org/fhir/StructureDefinition/timezone", "valueCode": zone}]
    return create(fhir, {**body, **extra})


def place(fhir: httpx.Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Practitioner and a Location (with an address and a phone)."""
    doctor = create(fhir, {"resourceType": "Practitioner", "name": [{"prefix": ["Dr."], "family": "Weber"}]})
    location = create(fhir, {"resourceType": "Location", "name": "Praxis Mitte",
                             "address": {"line": ["Hauptstraße 1"], "postalCode": "10115", "city": "Berlin"},
                             "telecom": [{"system": "phone", "value": "+49 30 5555"}]})  # fmt: skip
    return doctor, location


def appointment(
    who: dict[str, Any], doctor: dict[str, Any], location: dict[str, Any], start: datetime, *,
    status: str = "booked", visit: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "resourceType": "Appointment", "status": status, "start": instant(start),
        "end": instant(start + timedelta(minutes=20)),
        "participant": [{"actor": {"reference": f"Patient/{who['id']}"}, "status": "accepted"},
                        {"actor": {"reference": f"Practitioner/{doctor['id']}"}, "status": "accepted"},
                        {"actor": {"reference": f"Location/{location['id']}"}, "status": "accepted"}],
    }  # fmt: skip
    if visit:
        body["serviceType"] = [{"coding": [{"system": "urn:test:visit", "code": visit}]}]
    return body
