"""Audit searches leave the choice of index to the database: the embedded one answers a hinted find by
reading the whole collection."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

from fhir_server.audit.events import Actor, rest_event
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.audit import MongoAuditLog
from fhir_server.storage.audit_search import AuditSearch
from tests.audit.records import TEST_KEY
from tests.sent_commands import SentCommands


def test_searches_send_no_hint_and_find_their_events(database: EmbeddedDatabase) -> None:
    async def main() -> None:
        sent = SentCommands("audit", "audit_inbox")
        async with AsyncMongoClient[dict[str, Any]](database.uri, tz_aware=True, event_listeners=[sent]) as mongo:
            name = f"audit_plan_{uuid.uuid4().hex[:8]}"
            log = MongoAuditLog(mongo, name, TEST_KEY)
            await log.ensure_indexes()
            actor = Actor(client_id="app", username="nurse")
            moment = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
            events = [
                (rest_event("read", actor, "2026-12-07T09:00:00.000Z", 200, "http://h", what=[f"Patient/{n}"]), moment)
                for n in range(5)
            ]
            assert await log.append_sealed(log.packs(events[:3]), "sealer")
            await log.append_many(log.packs(events[3:]))
            sent.sent.clear()
            for criteria, expected in (
                (AuditSearch(filters=[("entity", ["Patient/1"])]), 1),
                (AuditSearch(filters=[("entity", ["Patient/4"])]), 1),
                (AuditSearch(filters=[("agent", ["nurse"])]), 5),
            ):
                found, _cursor = await log.search(criteria, 20)
                assert len(found) == expected, criteria
            assert sent.sent and not [command for _name, command in sent.sent if "hint" in command]
            await mongo.drop_database(name)

    asyncio.run(main())
