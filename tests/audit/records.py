"""Reading the audit records a running test server wrote: they land just after the response is sent."""

from __future__ import annotations

import base64
import time
from datetime import datetime
from typing import Any

from pymongo import MongoClient

from fhir_server.audit.key import load_audit_key
from fhir_server.config import Settings
from fhir_server.storage.audit import AuditKey
from fhir_server.storage.audit_search import entries, event_id, event_matches

TEST_KEY = AuditKey(bytes(range(32)))
"""The audit key of the tests that drive the audit log directly, without a server."""


def server_audit_key() -> AuditKey:
    """The key of the test servers started from the working directory (their default key file)."""
    return load_audit_key(Settings.from_env(), create=False)


def audit_events(uri: str, database: str, query: dict[str, Any], *, at_least: int = 1) -> list[dict[str, Any]]:
    """The AuditEvents matching `query` (on the stored record), waiting or sealed, in the order recorded,
    waiting up to 5 s for `at_least` of them."""
    with MongoClient(uri) as mongo:
        deadline = time.monotonic() + 5
        while True:
            found: dict[str, tuple[datetime, dict[str, Any]]] = {}
            for name in ("audit_inbox", "audit"):  # the inbox first: a record sealed meanwhile is then seen twice
                for record in mongo[database][name].find(query):
                    found.update(_matching(record, query))
            if len(found) >= at_least or time.monotonic() > deadline:
                return [event for _when, event in sorted(found.values(), key=lambda item: item[0])]
            time.sleep(0.05)


def _matching(record: dict[str, Any], query: dict[str, Any]) -> dict[str, tuple[datetime, dict[str, Any]]]:
    """The events of a stored record that match `query` themselves (one, or those of a pack), by event id."""
    return {event_id(key): (key[0], event) for key, event in entries(record) if event_matches(query, event, key[0])}


def by_client(client_id: str) -> dict[str, Any]:
    """The records whose application agent is `client_id`."""
    return {"event.agent.who.identifier.value": client_id}


def interaction(event: dict[str, Any]) -> str:
    return str(event["subtype"][0]["code"])


def whats(event: dict[str, Any]) -> list[str]:
    return [e["what"]["reference"] for e in event.get("entity", []) if "reference" in e.get("what", {})]


def request_id_of(event: dict[str, Any]) -> str | None:
    """The X-Request-Id recorded in the event (BALP's transaction entity)."""
    for entity in event.get("entity", []):
        if entity["type"].get("code") == "XrequestId":
            return str(entity["what"]["identifier"]["value"])
    return None


def query_of(event: dict[str, Any]) -> str | None:
    for entity in event.get("entity", []):
        if "query" in entity:
            return base64.b64decode(entity["query"]).decode()
    return None
