"""One `fhir-server serve --auth smart --demo-app examples/smart-app` for the end-to-end tests.

Accounts are made with the real `fhir-server user add ... --password-stdin` command; the
records (a practitioner, two patients with observations) are posted over HTTP with a system
token minted straight into the server's database, since no app exists yet to get one.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient, MongoClient

from fhir_server.auth import Grant
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.grants import MongoGrantStore
from tests.conftest import FHIR_JSON, ServerProcess

DATABASE = "e2e_tests"
PASSWORD = "e2e demo password"
DEMO_APP = Path(__file__).resolve().parents[2] / "examples" / "smart-app"


@dataclass(frozen=True)
class Person:
    """A stored Patient and the texts of its Observations: what the app must show."""

    id: str
    family: str
    given: str
    observations: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"


@dataclass(frozen=True)
class Demo:
    """The e2e server, its accounts and records."""

    server: ServerProcess
    database_uri: str
    doctor: str
    doctor_name: str
    patient_user: str
    own: Person
    other: Person

    @property
    def fhir_base(self) -> str:
        return f"{self.server.base}/fhir"

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run `fhir-server ARGS` on the e2e database; its standard output."""
        database = ["--mongodb-uri", self.database_uri, "--database", DATABASE]
        command = [sys.executable, "-m", "fhir_server", *args, *database]
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout


async def _system_token(uri: str) -> str:
    issued = datetime.now(UTC)
    grant = Grant(kind="access", client_id="e2e-setup", scopes=("system/*.cruds",), issued_at=issued,
                  expires_at=issued + timedelta(minutes=10), family=uuid.uuid4().hex, subject="e2e-setup")  # fmt: skip
    async with AsyncMongoClient[dict[str, Any]](uri, tz_aware=True) as mongo:
        return await MongoGrantStore(mongo, DATABASE).issue(grant)


def _person(http: httpx.Client, family: str, given: str, codes: tuple[str, ...]) -> Person:
    body = {"resourceType": "Patient", "name": [{"family": family, "given": [given]}], "birthDate": "1971-05-06"}
    patient_id = _create(http, body)
    for code in codes:
        _create(http, {"resourceType": "Observation", "status": "final", "code": {"text": code},
                       "subject": {"reference": f"Patient/{patient_id}"}})  # fmt: skip
    return Person(patient_id, family, given, codes)


def _create(http: httpx.Client, resource: dict[str, Any]) -> str:
    response = http.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="session")
def demo(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    log_path = tmp_path_factory.mktemp("e2e") / "server.log"
    args = ["--mongodb-uri", database.uri, "--database", DATABASE, "--demo-app", str(DEMO_APP)]
    server = ServerProcess(args, log_path, auth="smart")
    headers = {**FHIR_JSON, "Authorization": f"Bearer {asyncio.run(_system_token(database.uri))}"}
    with httpx.Client(base_url=f"{server.base}/fhir", headers=headers, timeout=30) as http:
        doctor_name = {"prefix": ["Dr"], "given": ["Gregory"], "family": "House"}
        practitioner = _create(http, {"resourceType": "Practitioner", "name": [doctor_name]})
        own = _person(http, "Lindqvist", "Maja", ("Body weight", "Heart rate"))
        other = _person(http, "Okafor", "Chidi", ("Hemoglobin A1c",))
    demo = Demo(server, database.uri, "doctor-e2e", "Dr Gregory House", "patient-e2e", own, other)
    demo.cli("user", "add", demo.doctor, "--role", "physician", "--fhir-user", f"Practitioner/{practitioner}",
             "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    demo.cli("user", "add", demo.patient_user, "--role", "patient", "--fhir-user", f"Patient/{own.id}",
             "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    yield demo
    server.stop()
    MongoClient(database.uri).drop_database(DATABASE)
