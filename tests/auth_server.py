"""One server with authorization on (auth=smart) for every enforcement test, and tokens minted
straight into its database with MongoGrantStore.issue (the OAuth endpoints are not needed).

The `world` fixture stores two patients, A and B, each with a laboratory and a vital-signs
Observation, an Encounter and a Condition, plus a Practitioner they share.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient, MongoClient

from fhir_server.auth import Grant
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.grants import MongoGrantStore
from tests.server_process import FHIR_JSON, ServerProcess

AUTH_DATABASE = "fhir_auth_tests"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ROLES = {"auditor": ["user/Patient.rs", "user/Observation.rs"]}
"""Added to the default roles through the roles file."""

Mint = Callable[..., str]


@pytest.fixture(scope="session")
def auth_server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("auth_server")
    roles_file = folder / "roles.json"
    roles_file.write_text(json.dumps(ROLES))
    args = ["--mongodb-uri", database.uri, "--database", AUTH_DATABASE, "--roles-file", str(roles_file)]
    process = ServerProcess(args, folder / "server.log", auth="smart")
    yield process
    process.stop()
    MongoClient(database.uri).drop_database(AUTH_DATABASE)


@pytest.fixture(scope="session")
def auth_base(auth_server: ServerProcess) -> str:
    return f"{auth_server.base}/fhir"


async def _issue(uri: str, grant: Grant) -> str:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        return await MongoGrantStore(client, AUTH_DATABASE).issue(grant)
    finally:
        await client.close()


@pytest.fixture(scope="session")
def mint(database: EmbeddedDatabase, auth_server: ServerProcess) -> Mint:
    """`mint("patient/*.rs", patient="a1", role="patient", lifetime=...)` → a bearer token."""

    def issue(
        scope: str,
        *,
        client_id: str = "test-app",
        role: str | None = None,
        patient: str | None = None,
        lifetime: timedelta = timedelta(hours=1),
        fhir_user: str | None = None,
    ) -> str:
        issued = datetime.now(UTC)
        grant = Grant(
            kind="access",
            client_id=client_id,
            scopes=tuple(scope.split()),
            issued_at=issued,
            expires_at=issued + lifetime,
            family=uuid.uuid4().hex,
            subject="someone",
            role=role,
            fhir_user=fhir_user,
            patient=patient,
        )
        return asyncio.run(_issue(database.uri, grant))

    return issue


@pytest.fixture(scope="session")
def connect(auth_base: str, mint: Mint) -> Callable[..., httpx.Client]:
    """An HTTP client carrying a token minted with these arguments (no arguments: no token)."""

    def make(scope: str | None = None, **grant: Any) -> httpx.Client:
        headers = dict(FHIR_JSON)
        if scope is not None:
            headers["Authorization"] = f"Bearer {mint(scope, **grant)}"
        return httpx.Client(base_url=auth_base, headers=headers, timeout=30)

    return make


@dataclass
class World:
    """Ids of the stored test records, by patient ("a" and "b")."""

    patient: dict[str, str]
    lab: dict[str, str]
    vitals: dict[str, str]
    encounter: dict[str, str]
    condition: dict[str, str]
    practitioner: str
    admin: httpx.Client


def _observation(patient: str, category: str, encounter: str, practitioner: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"text": category},
        "subject": {"reference": f"Patient/{patient}"},
        "encounter": {"reference": f"Encounter/{encounter}"},
        "performer": [{"reference": f"Practitioner/{practitioner}"}],
    }


@pytest.fixture(scope="session")
def world(connect: Callable[..., httpx.Client]) -> Iterator[World]:
    yield from make_world(connect)


def make_world(connect: Callable[..., httpx.Client]) -> Iterator[World]:
    """Store the two patients and their records; yield them, then close the admin client."""
    admin = connect("user/*.cruds system/*.cruds", role="admin")

    def create(resource: dict[str, Any]) -> str:
        response = admin.post(f"/{resource['resourceType']}", json=resource)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    practitioner = create({"resourceType": "Practitioner", "name": [{"family": "Shared"}]})
    ids: dict[str, dict[str, str]] = {k: {} for k in ("patient", "lab", "vitals", "encounter", "condition")}
    for key in ("a", "b"):
        patient = create({"resourceType": "Patient", "name": [{"family": f"Family{key.upper()}"}]})
        encounter = create({"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                            "subject": {"reference": f"Patient/{patient}"}})  # fmt: skip
        ids["patient"][key] = patient
        ids["encounter"][key] = encounter
        ids["lab"][key] = create(_observation(patient, "laboratory", encounter, practitioner))
        ids["vitals"][key] = create(_observation(patient, "vital-signs", encounter, practitioner))
        ids["condition"][key] = create({"resourceType": "Condition", "subject": {"reference": f"Patient/{patient}"},
                                        "code": {"text": "cough"}})  # fmt: skip
    yield World(**ids, practitioner=practitioner, admin=admin)
    admin.close()


def outcome_text(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return " ".join(issue.get("diagnostics", "") for issue in body["issue"])


def finished_export(client: httpx.Client, kick_off_path: str) -> tuple[str, httpx.Response]:
    """Kick off a Bulk Data export and poll it (up to 60 s): the status URL and its last response."""
    kick_off = client.get(kick_off_path, headers={"Prefer": "respond-async"})
    assert kick_off.status_code == 202, kick_off.text
    poll = kick_off.headers["Content-Location"]
    deadline = time.monotonic() + 60
    while (status := client.get(poll)).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.2)
    return poll, status
