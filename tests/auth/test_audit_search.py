"""`GET /admin/audit` searched by date, agent, entity, patient, type, subtype, action, outcome and
request id, paged with next links; only administrators may; the chain still verifies after all."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fhir_server.storage import EmbeddedDatabase
from tests.audit.records import audit_events, by_client, interaction, whats
from tests.auth_server import AUTH_DATABASE, World

Connect = Callable[..., httpx.Client]


@dataclass
class Trail:
    """What one app did: read patient A, read a missing patient, searched, created a Patient."""

    app: str
    created: str
    request_id: str
    before: datetime
    after: datetime


@pytest.fixture(scope="module")
def trail(connect: Connect, world: World, database: EmbeddedDatabase) -> Trail:
    app, request_id = f"search-{uuid.uuid4().hex[:8]}", f"rid-{uuid.uuid4().hex}"
    before = datetime.now(UTC) - timedelta(seconds=1)
    with connect("user/*.cruds", client_id=app) as http:
        assert http.get(f"/Patient/{world.patient['a']}").status_code == 200
        assert http.get("/Patient/nobody-here").status_code == 404
        assert http.get("/Observation", params={"code": "x"}, headers={"X-Request-Id": request_id}).status_code == 200
        created = http.post("/Patient", json={"resourceType": "Patient"})
    assert created.status_code == 201
    audit_events(database.uri, AUTH_DATABASE, by_client(app), at_least=4)
    return Trail(app, f"Patient/{created.json()['id']}", request_id, before, datetime.now(UTC) + timedelta(seconds=1))


@pytest.fixture(scope="module")
def admin(connect: Connect, auth_base: str) -> Iterator[Callable[..., httpx.Response]]:
    root = auth_base.removesuffix("/fhir")
    with connect("user/*.cruds system/*.cruds", role="admin") as http:

        def search(*params: tuple[str, str]) -> httpx.Response:
            return http.get(f"{root}/admin/audit", params=list(params))

        yield search


def _events(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    return [entry["resource"] for entry in bundle.get("entry", [])]


def _kinds(response: httpx.Response) -> list[str]:
    return sorted(interaction(event) for event in _events(response))


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def test_agent_and_who_find_the_apps_events(admin: Callable[..., httpx.Response], trail: Trail) -> None:
    assert _kinds(admin(("agent", trail.app))) == ["create", "read", "read", "search-type"]
    assert _kinds(admin(("who", trail.app))) == ["create", "read", "read", "search-type"]
    assert _kinds(admin(("agent", "someone"), ("agent", trail.app), ("subtype", "create"))) == ["create"]  # AND
    assert _events(admin(("agent", f"nobody-{uuid.uuid4().hex}"))) == []


def test_type_subtype_action_and_outcome(admin: Callable[..., httpx.Response], trail: Trail) -> None:
    agent = ("agent", trail.app)
    assert _kinds(admin(agent, ("subtype", "read"))) == ["read", "read"]
    assert _kinds(admin(agent, ("subtype", "http://hl7.org/fhir/restful-interaction|create"))) == ["create"]
    assert _kinds(admin(agent, ("subtype", "create,search-type"))) == ["create", "search-type"]
    assert _kinds(admin(agent, ("action", "R"))) == ["read", "read"]
    assert len(_events(admin(agent, ("type", "rest")))) == 4
    assert _events(admin(agent, ("type", "110114"))) == []
    failed = _events(admin(agent, ("outcome", "4")))
    assert [whats(event) for event in failed] == [["Patient/nobody-here"]]


def test_entity_patient_and_request_id(admin: Callable[..., httpx.Response], trail: Trail, world: World) -> None:
    agent = ("agent", trail.app)
    created = _events(admin(("entity", trail.created)))  # its version, Patient/x/_history/1
    assert [interaction(event) for event in created] == ["create"]
    assert _kinds(admin(agent, ("patient", world.patient["a"]))) == ["read"]
    assert _kinds(admin(agent, ("patient", f"Patient/{world.patient['a']}"))) == ["read"]
    assert _kinds(admin(("request-id", trail.request_id))) == ["search-type"]


def test_date_prefixes(admin: Callable[..., httpx.Response], trail: Trail) -> None:
    agent = ("agent", trail.app)
    assert len(_events(admin(agent, ("date", f"ge{_stamp(trail.before)}"), ("date", f"le{_stamp(trail.after)}")))) == 4
    assert _events(admin(agent, ("date", f"lt{_stamp(trail.before)}"))) == []
    assert _events(admin(agent, ("date", f"gt{_stamp(trail.after)}"))) == []
    first = _events(admin(agent))[-1]
    day = datetime.fromisoformat(first["recorded"]).date()
    assert first["id"] in [event["id"] for event in _events(admin(agent, ("date", day.isoformat())))]  # eq
    assert first["id"] in [event["id"] for event in _events(admin(agent, ("date", f"eq{day.isoformat()}")))]
    assert _events(admin(agent, ("date", (day - timedelta(days=1)).isoformat()))) == []
    assert len(_events(admin(agent, ("since", trail.before.isoformat())))) == 4


def test_pages_follow_next_links(admin: Callable[..., httpx.Response], trail: Trail) -> None:
    first = admin(("agent", trail.app), ("_count", "3"))
    links = {link["relation"]: link["url"] for link in first.json()["link"]}
    assert len(_events(first)) == 3 and "next" in links and "_cursor" not in links["self"]
    with httpx.Client(headers=first.request.headers) as http:
        second = http.get(links["next"])
    assert "next" not in {link["relation"] for link in second.json()["link"]}
    ids = [event["id"] for event in _events(first) + _events(second)]
    assert len(ids) == 4 == len(set(ids))
    recorded = [event["recorded"] for event in _events(first) + _events(second)]
    assert recorded == sorted(recorded, reverse=True)


@pytest.mark.parametrize(
    "params",
    [[("colour", "red")], [("date", "sa2026-01-01")], [("date", "yesterday")], [("_cursor", "nonsense")],
     [("_count", "0")], [("agent", "")]],
)  # fmt: skip
def test_bad_parameters_are_refused(admin: Callable[..., httpx.Response], params: list[tuple[str, str]]) -> None:
    answer = admin(*params)
    assert answer.status_code == 400 and answer.json()["resourceType"] == "OperationOutcome"


def test_non_administrators_cannot_search(connect: Connect, auth_base: str, trail: Trail) -> None:
    root = auth_base.removesuffix("/fhir")
    with connect("user/*.cruds", role="nurse") as nurse, connect() as anonymous:
        assert nurse.get(f"{root}/admin/audit", params={"agent": trail.app}).status_code == 403
        assert anonymous.get(f"{root}/admin/audit", params={"agent": trail.app}).status_code == 401


def test_audit_verify_passes_on_the_servers_log(database: EmbeddedDatabase) -> None:
    where = ["--mongodb-uri", database.uri, "--database", AUTH_DATABASE]
    command = [sys.executable, "-m", "fhir_server", "audit", "verify", *where]
    deadline = time.monotonic() + 10
    while True:  # the server's sealer runs every second
        run = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if " 0 not sealed yet" in run.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert run.returncode == 0 and "The audit log is intact." in run.stdout, run.stdout
