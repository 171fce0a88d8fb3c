"""Packs (several queued events in one record) beside one-event records: chained, verified, searched, paged."""

from __future__ import annotations

import asyncio
import uuid
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from fhir_server.audit.events import Actor, rest_event
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.audit import MongoAuditLog
from fhir_server.storage.audit_pack import packed, unpacked
from fhir_server.storage.audit_search import PACK_SPAN, AuditSearch, entries
from tests.audit.records import TEST_KEY

_START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _actor(n: int) -> Actor:
    return Actor(client_id=f"app{n % 2}", username=f"user{n % 3}", address="127.0.0.1")


def _event(n: int, outcome: int = 200) -> dict[str, Any]:
    return rest_event("read", _actor(n), "2026-11-26T08:00:00.000Z", outcome, "http://h/fhir", what=[f"Patient/{n}"])


def _at(n: int) -> datetime:
    return _START + timedelta(milliseconds=40 * n)


def _run(
    database: EmbeddedDatabase, scenario: Callable[[AsyncMongoClient[dict], MongoAuditLog], Awaitable[None]]
) -> None:
    async def main() -> None:
        async with AsyncMongoClient[dict](database.uri, tz_aware=True) as mongo:
            log = MongoAuditLog(mongo, f"audit_{uuid.uuid4().hex[:8]}", TEST_KEY)
            await log.ensure_indexes()
            await scenario(mongo, log)

    asyncio.run(main())


async def _mixed(log: MongoAuditLog) -> None:
    """Events 0..59: every fifth alone (a write's), the others in packs of the queue, interleaved in time,
    some unsealed packs appended by another process, all sealed at the end."""
    queued = [(_event(n, 404 if n % 7 == 0 else 200), _at(n)) for n in range(60) if n % 5]
    for n in range(0, 60, 5):
        await log.append_many([log.record(_event(n), _at(n))])
    packs = log.packs(queued)
    assert len(packs) == 3 and sum(len(pack["times"]) for pack in packs) == 48  # 60 × 40 ms spans > 1 s
    assert await log.append_sealed(packs[:1], "s1")
    await log.append_many(packs[1:])
    while await log.seal("s1"):
        pass


async def _all_pages(log: MongoAuditLog, criteria: AuditSearch, count: int) -> list[dict[str, Any]]:
    events, cursor = await log.search(criteria, count)
    while cursor is not None:
        page, cursor = await log.search(criteria, count, cursor)
        events += page
    return events


def _numbers(events: list[dict[str, Any]]) -> list[int]:
    return [int(event["entity"][0]["what"]["reference"].split("/")[1]) for event in events]


def test_packs_are_chained_and_verify(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        await _mixed(log)
        report = await log.verify()
        assert report.intact, report.problems
        assert (report.events, report.unsealed) == (60, 0)
        assert report.sealed == 2 + 3  # the twelve single records were sealed as two packs (60 × 40 ms > 2 s)
        stored = await mongo[log.database_name]["audit"].find({"v": 4}).to_list()
        assert all(max(pack["times"]) == pack["recorded"] for pack in stored)
        assert all(max(pack["times"]) - min(pack["times"]) <= PACK_SPAN for pack in stored)

    _run(database, scenario)


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("edit one event", "was changed or written outside the server"),
        ("hide an event from searches", "was changed or written outside the server"),
        ("move one event in time", "was changed or written outside the server"),
        ("drop one event", "was changed or written outside the server"),
        ("delete the pack", "are missing"),
        ("forge a pack", "not sealed yet, was not written by the server"),
    ],
)
def test_tampering_with_a_pack_is_detected(database: EmbeddedDatabase, tamper: str, problem: str) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        await _mixed(log)
        records = mongo[log.database_name]["audit"]
        pack = await records.find_one({"v": 4}, sort=[("seq", 1)])  # more records follow it
        assert pack is not None
        events = unpacked(pack["events"])
        if tamper == "edit one event":
            edited = [events[0], {**events[1], "outcome": "12"}, *events[2:]]
            await records.update_one({"_id": pack["_id"]}, {"$set": {"events": packed(edited)}})
        elif tamper == "hide an event from searches":
            await records.update_one({"_id": pack["_id"]}, {"$pull": {"event.entity.what.reference": "Patient/1"}})
        elif tamper == "move one event in time":
            moved = [pack["times"][0] - timedelta(days=1), *pack["times"][1:]]
            await records.update_one({"_id": pack["_id"]}, {"$set": {"times": moved}})
        elif tamper == "drop one event":
            await records.update_one(
                {"_id": pack["_id"]}, {"$set": {"events": packed(events[:-1])}, "$pop": {"times": 1}}
            )
        elif tamper == "delete the pack":
            await records.delete_one({"_id": pack["_id"]})
        else:
            forged = {key: value for key, value in pack.items() if key not in ("_id", "seq", "prev", "hash")}
            await records.insert_one({**forged, "seq": None, "events": packed([_event(99)]), "times": [_at(99)]})
        report = await log.verify()
        assert not report.intact
        assert any(problem in found for found in report.problems), report.problems

    _run(database, scenario)


def test_search_reads_both_shapes_newest_first_with_pages(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        await _mixed(log)
        everything = await _all_pages(log, AuditSearch(), 7)
        assert _numbers(everything) == list(range(59, -1, -1))
        ids = [event["id"] for event in everything]
        assert len(set(ids)) == 60 and ids == [event["id"] for event in await _all_pages(log, AuditSearch(), 60)]

        refused = AuditSearch(filters=[("outcome", ["4"])])
        assert _numbers(await _all_pages(log, refused, 2)) == [n for n in range(59, -1, -1) if n % 7 == 0 and n % 5]
        agent = AuditSearch(filters=[("agent", ["app1", "user2"])])
        expected = [n for n in range(59, -1, -1) if n % 2 == 1 or n % 3 == 2]
        assert _numbers(await _all_pages(log, agent, 5)) == expected
        both = AuditSearch(filters=[("agent", ["app1"]), ("entity", ["Patient/7", "Patient/8", "Patient/9"])])
        assert _numbers(await _all_pages(log, both, 1)) == [9, 7]  # each event on its own, never across a pack

        window = AuditSearch(recorded=[("$gte", _at(10)), ("$lt", _at(31))])
        assert _numbers(await _all_pages(log, window, 4)) == list(range(30, 9, -1))
        assert _numbers(await _all_pages(log, AuditSearch(recorded=[("$lte", _at(2))]), 100)) == [2, 1, 0]

    _run(database, scenario)


def test_a_pack_is_split_by_span_and_size() -> None:
    log = MongoAuditLog(AsyncMongoClient[dict]("mongodb://localhost:1", connect=False), "x", TEST_KEY)
    far = [(_event(n), _START + (PACK_SPAN + timedelta(milliseconds=1)) * n) for n in range(3)]
    assert [len(pack["times"]) for pack in log.packs(far)] == [1, 1, 1]
    many = [(_event(n), _START) for n in range(1200)]
    assert [len(pack["times"]) for pack in log.packs(many)] == [500, 500, 200]
    assert log.packs([]) == []


def _legacy_pack(events: list[tuple[dict[str, Any], datetime]]) -> dict[str, Any]:
    """A pack as version 3 stored it (the events themselves, as a list), with its MAC."""
    times = [moment for _event, moment in events]
    made = {"_id": ObjectId(), "v": 3, "recorded": max(times), "times": times, "seq": None}
    made["event"] = [event for event, _moment in events]
    return {**made, "mac": TEST_KEY.record_mac(made)}


def test_packs_of_version_3_still_verify_and_are_searched_beside_compressed_ones(database: EmbeddedDatabase) -> None:
    async def scenario(mongo: AsyncMongoClient[dict], log: MongoAuditLog) -> None:
        await log.append_many([_legacy_pack([(_event(n), _at(n)) for n in range(100, 110)])])
        await _mixed(log)
        report = await log.verify()
        assert report.intact, report.problems
        assert (report.events, report.sealed) == (70, 6)
        found = await _all_pages(log, AuditSearch(filters=[("entity", ["Patient/103", "Patient/3"])]), 1)
        assert _numbers(found) == [103, 3]
        assert _numbers(await _all_pages(log, AuditSearch(filters=[("agent", ["app1"])]), 100))[:5] == [
            109, 107, 105, 103, 101
        ]  # fmt: skip

    _run(database, scenario)


def test_a_compressed_pack_is_small_and_its_summary_holds_every_searched_value() -> None:
    log = MongoAuditLog(AsyncMongoClient[dict]("mongodb://localhost:1", connect=False), "x", TEST_KEY)
    [pack] = log.packs([(_event(n, 404 if n == 3 else 200), _START) for n in range(300)])
    assert unpacked(pack["events"]) == [_event(n, 404 if n == 3 else 200) for n in range(300)]
    assert len(bson.encode(pack)) < 300 * 200  # each event is 1.4 KB as JSON
    summary = pack["event"]
    assert summary["entity"]["what"]["reference"] == [f"Patient/{n}" for n in range(300)]
    assert sorted(summary["agent"]["altId"]) == ["user0", "user1", "user2"]
    assert summary["outcome"] == ["0", "4"] and summary["action"] == ["R"]
    assert summary["subtype"]["code"] == ["read"] and summary["type"]["code"] == ["rest"]


@pytest.mark.parametrize("stored", [b"not zlib", zlib.compress(b'{"not": "a list"}'), zlib.compress(b"[" * 10)])
def test_a_pack_whose_events_do_not_unpack_shows_none(stored: bytes) -> None:
    with pytest.raises(ValueError):
        unpacked(stored)
    log = MongoAuditLog(AsyncMongoClient[dict]("mongodb://localhost:1", connect=False), "x", TEST_KEY)
    [pack] = log.packs([(_event(1), _START)])
    assert list(entries({**pack, "events": stored})) == []
    assert len(list(entries(pack))) == 1
