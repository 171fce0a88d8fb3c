"""The audit records of writes that commit together go into the inbox as packs that keep each event's id
(`MongoAuditLog.combined`), and the sealer repacks runs of such records into as few packs as hold them:
event ids are the same before and after sealing, the chain verifies, and a restore drops a waiting pack
whose events its log holds already."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

from fhir_server.audit.events import Actor, rest_event
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.audit import AUDIT_COLLECTION, AUDIT_INBOX, MongoAuditLog
from fhir_server.storage.audit_seal import COMPRESSED
from fhir_server.storage.audit_search import AuditSearch
from fhir_server.storage.backup import MongoBackupStore
from tests.audit.records import TEST_KEY

_START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _single(log: MongoAuditLog, n: int) -> dict[str, Any]:
    actor = Actor(client_id="app", username="nurse", address="127.0.0.1")
    event = rest_event("create", actor, "2026-12-07T09:00:00.000Z", 201, "http://h/fhir", what=[f"Patient/{n}"])
    return log.record(event, _START + timedelta(milliseconds=n))


async def _events(log: MongoAuditLog) -> dict[str, str]:
    """Every event's id -> the patient it names, from a search of the inbox and the log."""
    found, cursor = await log.search(AuditSearch(), 100)
    assert cursor is None
    return {event["id"]: event["entity"][0]["what"]["reference"] for event in found}


def _run(database: EmbeddedDatabase, scenario: Any) -> None:
    async def main() -> None:
        async with AsyncMongoClient[dict[str, Any]](database.uri, tz_aware=True) as mongo:
            name = f"group_audit_{uuid.uuid4().hex[:8]}"
            log = MongoAuditLog(mongo, name, TEST_KEY)
            await log.ensure_indexes()
            try:
                await scenario(mongo, name, log)
            finally:
                await mongo.drop_database(name)

    asyncio.run(main())


def test_a_group_commits_its_events_as_one_pack_and_sealing_keeps_their_ids(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict[str, Any]], name: str, log: MongoAuditLog) -> None:
        first = [_single(log, n) for n in range(3)]
        second = [_single(log, n) for n in range(3, 7)]
        alone = _single(log, 7)
        combined = log.combined(first)
        assert len(combined) == 1 and combined[0]["v"] == COMPRESSED
        assert combined[0]["ids"] == [record["_id"] for record in first]
        await log.append_many([*combined, *log.combined(second), alone])
        expected = {str(record["_id"]): f"Patient/{n}" for n, record in enumerate([*first, *second, alone])}
        assert await _events(log) == expected, "waiting events are found under their own ids"

        while await log.seal("sealer"):
            pass
        assert await mongo[name][AUDIT_INBOX].count_documents({}) == 0
        packs = await mongo[name][AUDIT_COLLECTION].find({}).to_list()
        assert len(packs) == 1, "the run of two group packs and a single record is one pack in the log"
        assert packs[0]["ids"] == [record["_id"] for record in [*first, *second, alone]]
        assert await _events(log) == expected, "sealed events keep their ids"
        report = await log.verify()
        assert report.intact and report.events == 8, report.problems

    _run(database, scenario)


def test_a_lone_pack_without_ids_is_chained_as_it_is(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict[str, Any]], name: str, log: MongoAuditLog) -> None:
        bundle = log.packs([(_single(log, n)["event"], _START + timedelta(milliseconds=n)) for n in range(4)])
        grouped = log.combined([_single(log, 10), _single(log, 11)])
        await log.append_many([*grouped, *bundle])
        while await log.seal("sealer"):
            pass
        stored = await mongo[name][AUDIT_COLLECTION].find({}).sort("seq", 1).to_list()
        assert [len(pack["times"]) for pack in stored] == [2, 4]
        assert stored[1]["_id"] == bundle[0]["_id"] and "ids" not in stored[1]
        report = await log.verify()
        assert report.intact and report.events == 6, report.problems

    _run(database, scenario)


def test_restore_drops_a_waiting_group_pack_the_log_holds(database: EmbeddedDatabase) -> None:
    """A backup reads the inbox before the log: a group pack sealed in between is in both once restored."""

    async def scenario(mongo: AsyncMongoClient[dict[str, Any]], name: str, log: MongoAuditLog) -> None:
        sealed = log.combined([_single(log, 1), _single(log, 2)])
        await log.append_many(sealed)
        while await log.seal("sealer"):
            pass
        waiting = log.combined([_single(log, 3), _single(log, 4)])
        await mongo[name][AUDIT_INBOX].insert_many([*sealed, *waiting])
        backups = MongoBackupStore(mongo, name)
        await backups.drop_sealed_waiting()
        left = [doc["_id"] async for doc in mongo[name][AUDIT_INBOX].find({})]
        assert left == [waiting[0]["_id"]]
        assert len(await _events(log)) == 4, "no event twice, none lost"

    _run(database, scenario)
