"""Sign-ins leave an AuditEvent each: success, wrong password and lockout; token refusals too."""

from __future__ import annotations

import httpx

from fhir_server.storage import EmbeddedDatabase
from tests.audit.records import audit_events
from tests.conftest import ServerProcess

from .conftest import DATABASE, MAX_FAILURES, AuthData, sign_in


def _sign_ins(database: EmbeddedDatabase, username: str, count: int) -> list[dict[str, object]]:
    return audit_events(database.uri, DATABASE, {"event.agent.altId": username}, at_least=count)


def test_each_sign_in_is_recorded_with_its_outcome(
    browser: httpx.Client, auth_data: AuthData, database: EmbeddedDatabase
) -> None:
    username, client_id = auth_data.user("nurse"), auth_data.client()
    request_id = auth_data.park(client_id, "openid")
    assert sign_in(browser, request_id, username, "wrong").status_code == 400
    assert sign_in(browser, request_id, username).status_code in (302, 303)
    events = _sign_ins(database, username, 2)
    assert [e["outcome"] for e in events] == ["4", "0"]
    assert all(e["subtype"] == [{"system": "urn:fhir-server:auth-event", "code": "login"}] for e in events)
    assert events[0]["agent"][1]["who"]["identifier"]["value"] == client_id  # type: ignore[index]


def test_a_lockout_is_recorded(browser: httpx.Client, auth_data: AuthData, database: EmbeddedDatabase) -> None:
    username = auth_data.user("nurse")
    request_id = auth_data.park(auth_data.client(), "openid")
    for _attempt in range(MAX_FAILURES):
        sign_in(browser, request_id, username, "wrong")
    events = _sign_ins(database, username, MAX_FAILURES)
    assert events[-1]["outcome"] == "4" and events[-1]["outcomeDesc"] == "locked out"


def test_a_refused_token_request_is_recorded(pages_server: ServerProcess, database: EmbeddedDatabase) -> None:
    client_id = "no-such-client-for-audit"
    answer = httpx.post(
        f"{pages_server.base}/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"},
    )
    assert answer.status_code in (400, 401)
    events = audit_events(database.uri, DATABASE, {"event.subtype.code": "token", "event.outcome": "4"})
    assert events and events[-1]["outcomeDesc"] == f"HTTP {answer.status_code}"
