"""`fhir-server token` (a real process) prints a token that works with curl-like requests against `--auth smart`."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.clients import ASYMMETRIC, Client, MongoClientStore
from tests.audit.records import audit_events
from tests.auth_server import AUTH_DATABASE, World
from tests.conftest import FHIR_JSON, ServerProcess
from tests.test_cli_import_export import cli


def token(database: EmbeddedDatabase, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("token", *args, "--mongodb-uri", database.uri, "--database", AUTH_DATABASE)


def bearer(auth_server: ServerProcess, value: str) -> httpx.Client:
    headers = {**FHIR_JSON, "Authorization": f"Bearer {value}"}
    return httpx.Client(base_url=f"{auth_server.base}/fhir", headers=headers, timeout=30)


def add_user(database: EmbeddedDatabase, role: str, fhir_user: str) -> str:
    username = f"{role}-{uuid.uuid4().hex[:6]}"
    where = ["--mongodb-uri", database.uri, "--database", AUTH_DATABASE, "--password-stdin"]
    added = cli("user", "add", username, "--role", role, "--fhir-user", fhir_user, *where, input="long enough\n")
    assert added.returncode == 0, added.stderr
    return username


def test_a_users_token_carries_the_role_or_the_scopes_asked_for(
    auth_server: ServerProcess, database: EmbeddedDatabase, world: World
) -> None:
    nurse = add_user(database, "nurse", f"Practitioner/{world.practitioner}")
    done = token(database, "--user", nurse)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and done.stderr == ""  # the token alone: $(fhir-server token ...) works
    with bearer(auth_server, done.stdout.strip()) as client:
        assert client.get(f"/Patient/{world.patient['b']}").status_code == 200  # the nurse role reads everyone
    narrow = token(database, "--user", nurse, "--scope", "user/Observation.rs", "--lifetime", "60")
    assert narrow.returncode == 0, narrow.stderr
    value = narrow.stdout.strip()
    with bearer(auth_server, value) as client:
        assert client.get(f"/Observation/{world.lab['a']}").status_code == 200
        assert client.get(f"/Patient/{world.patient['a']}").status_code == 403
    info = httpx.post(f"{auth_server.base}/auth/introspect", data={"token": value},
                      headers={"Authorization": f"Bearer {value}"}).json()  # fmt: skip
    assert info["active"] and info["exp"] - info["iat"] == 60 and info["sub"] == nurse
    assert info["client_id"] == "fhir-server-cli"
    events = audit_events(database.uri, AUTH_DATABASE, {"event.subtype.code": "token", "event.agent.altId": nurse},
                          at_least=2)  # fmt: skip
    assert [event["outcome"] for event in events] == ["0", "0"]


def test_a_patient_users_token_is_confined_to_their_record(
    auth_server: ServerProcess, database: EmbeddedDatabase, world: World
) -> None:
    me, other = world.patient["a"], world.patient["b"]
    patient = add_user(database, "patient", f"Patient/{me}")
    done = token(database, "--user", patient)
    assert done.returncode == 0, done.stderr
    with bearer(auth_server, done.stdout.strip()) as client:
        assert client.get(f"/Patient/{me}").status_code == 200
        assert client.get(f"/Patient/{other}").status_code == 404
        found = client.get("/Observation").json()
        assert {e["resource"]["subject"]["reference"] for e in found["entry"]} == {f"Patient/{me}"}
    refused = token(database, "--user", patient, "--patient", other)
    assert refused.returncode == 1 and "only have their own record" in refused.stderr
    events = audit_events(database.uri, AUTH_DATABASE, {"event.subtype.code": "token", "event.agent.altId": patient},
                          at_least=2)  # fmt: skip
    assert [event["outcome"] for event in events] == ["0", "4"]
    assert any(e.get("what", {}).get("reference") == f"Patient/{me}" for e in events[0]["entity"])


def test_a_staff_token_with_a_patient_in_context(
    auth_server: ServerProcess, database: EmbeddedDatabase, world: World
) -> None:
    doctor = add_user(database, "physician", f"Practitioner/{world.practitioner}")
    done = token(database, "--user", doctor, "--scope", "patient/*.rs", "--patient", world.patient["a"])
    assert done.returncode == 0, done.stderr
    with bearer(auth_server, done.stdout.strip()) as client:
        assert client.get(f"/Condition/{world.condition['a']}").status_code == 200
        assert client.get(f"/Condition/{world.condition['b']}").status_code == 404


def test_a_backend_clients_token_has_its_system_scopes(
    auth_server: ServerProcess, database: EmbeddedDatabase, world: World
) -> None:
    backend = Client(f"backend-{uuid.uuid4().hex[:6]}", "Nightly export", ASYMMETRIC, scopes=("system/Patient.rs",),
                     jwks={"keys": []})  # fmt: skip

    async def store() -> None:
        async with AsyncMongoClient[dict[str, Any]](database.uri) as mongo:
            await MongoClientStore(mongo, AUTH_DATABASE).add(backend)

    asyncio.run(store())
    done = token(database, "--client", backend.client_id)
    assert done.returncode == 0, done.stderr
    value = done.stdout.strip()
    with bearer(auth_server, value) as client:
        assert client.get(f"/Patient/{world.patient['a']}").status_code == 200
        assert client.get(f"/Observation/{world.lab['a']}").status_code == 403
    info = httpx.post(f"{auth_server.base}/auth/introspect", data={"token": value},
                      headers={"Authorization": f"Bearer {value}"}).json()  # fmt: skip
    assert info["exp"] - info["iat"] == 300 and info["client_id"] == backend.client_id
    wider = token(database, "--client", backend.client_id, "--scope", "system/Observation.rs")
    assert wider.returncode == 1 and f"within what client {backend.client_id} may have" in wider.stderr
    user_scope = token(database, "--client", backend.client_id, "--scope", "user/Patient.rs")
    assert user_scope.returncode == 1 and "system/ scopes only" in user_scope.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody-here"], "no active account 'nobody-here'"),
        (["--client", "no-such-client"], "No client no-such-client is registered"),
        (["--user", "NURSE", "--scope", "patient/*.rs"], "patient/ scopes need a patient in context"),
        (["--user", "NURSE", "--patient", "no-such-patient"], "Patient/no-such-patient does not exist"),
        (["--user", "NURSE", "--scope", "system/*.rs"], "None of the scopes asked for is within"),
        (["--user", "NURSE", "--lifetime", "0"], "--lifetime must be 1 to 86400 seconds"),
        (["--user", "NURSE", "--scope", "user/Patient.xyz"], "cruds"),
    ],
)
def test_refusals_say_why_and_print_no_token(
    database: EmbeddedDatabase, world: World, nurse_account: str, args: list[str], message: str
) -> None:
    done = token(database, *[nurse_account if arg == "NURSE" else arg for arg in args])
    assert done.returncode == 1 and done.stdout == "", done.stdout
    assert message in done.stderr, done.stderr


@pytest.fixture(scope="module")
def nurse_account(database: EmbeddedDatabase, world: World) -> str:
    return add_user(database, "nurse", f"Practitioner/{world.practitioner}")
