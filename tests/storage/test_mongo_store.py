"""MongoResourceStore on the embedded database: atomic versioned writes and the codec seam."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from fhir_server.errors import VersionConflict
from fhir_server.storage import EmbeddedDatabase, HistoryQuery, MongoResourceStore, StoredResource
from fhir_server.storage.store import CurrentQuery


class ReversingCodec:
    """A stand-in for encryption: what is stored is not the JSON the engine wrote."""

    def encode(self, body: bytes) -> bytes:
        return body[::-1]

    def decode(self, stored: bytes) -> bytes:
        return bytes(stored)[::-1]


def _record(version: int, when: datetime, body: bytes | None = b'{"resourceType":"Patient"}') -> StoredResource:
    return StoredResource("Patient", "p1", version, when, body is None, body)


def run_with_store(
    database: EmbeddedDatabase, test: Callable[[MongoResourceStore, str], Awaitable[None]], codec: Any = None
) -> None:
    name = f"store_{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        store = MongoResourceStore.connect(database.uri, name, codec)
        try:
            await store.ensure_indexes()
            await store.ensure_indexes()  # idempotent
            await test(store, name)
        finally:
            await store.close()

    asyncio.run(main())


def test_write_conflicts_are_refused_and_leave_nothing(database: EmbeddedDatabase) -> None:
    async def scenario(store: MongoResourceStore, _name: str) -> None:
        now = datetime.now(UTC)
        await store.write(_record(1, now), replaces=None)
        with pytest.raises(VersionConflict):
            await store.write(_record(1, now), replaces=None)  # already exists
        await store.write(_record(2, now), replaces=1)
        with pytest.raises(VersionConflict):
            await store.write(_record(3, now), replaces=1)  # stale
        current = await store.get("Patient", "p1")
        assert current is not None and current.version_id == 2
        assert await store.get_version("Patient", "p1", 3) is None
        assert await store.count_history(HistoryQuery("Patient", "p1")) == 2

    run_with_store(database, scenario)


def test_at_finds_the_version_current_at_a_moment(database: EmbeddedDatabase) -> None:
    async def scenario(store: MongoResourceStore, _name: str) -> None:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        await store.write(_record(1, start), replaces=None)
        await store.write(_record(2, start + timedelta(days=10)), replaces=1)
        await store.write(_record(3, start + timedelta(days=20), body=None), replaces=2)

        async def at(day: int) -> list[int]:
            moment = start + timedelta(days=day)
            query = HistoryQuery("Patient", "p1", at_start=moment, at_end=moment + timedelta(seconds=1))
            return [r.version_id for r in await store.history(query, 10)]

        assert await at(5) == [1]
        assert await at(15) == [2]
        assert await at(25) == [3]

    run_with_store(database, scenario)


def test_at_across_resources_with_a_boundary_paging_and_counts(database: EmbeddedDatabase) -> None:
    """A version is current from its own instant until the next version's: one replaced exactly at the
    window's start is not in it; pages and counts agree with the whole list."""

    async def scenario(store: MongoResourceStore, _name: str) -> None:
        t0 = datetime(2026, 3, 1, tzinfo=UTC)

        def at(minute: int) -> datetime:
            return t0 + timedelta(minutes=minute)

        def version(rid: str, n: int, minute: int, deleted: bool = False) -> StoredResource:
            body = None if deleted else b'{"resourceType":"Patient"}'
            return StoredResource("Patient", rid, n, at(minute), deleted, body)

        for rid, versions in {"a": [(1, 0), (2, 10), (3, 20)], "b": [(1, 5)], "c": [(1, 1), (2, 3)]}.items():
            for n, minute in versions:
                deleted = rid == "c" and n == 2
                await store.write(version(rid, n, minute, deleted), replaces=None if n == 1 else n - 1)

        async def during(start: int, end: int, page: int = 10) -> list[str]:
            query = HistoryQuery("Patient", at_start=at(start), at_end=at(end))
            found: list[str] = []
            while True:
                records = await store.history(query, page + 1)
                found += [f"{r.id}/{r.version_id}" for r in records[:page]]
                if len(records) <= page:
                    break
                last = records[page - 1]
                query = HistoryQuery(
                    "Patient",
                    at_start=at(start),
                    at_end=at(end),
                    after=(last.last_updated, f"{last.reference}/{last.version_id}"),
                )
            total = await store.count_history(HistoryQuery("Patient", at_start=at(start), at_end=at(end)))
            assert total == len(found)
            return found

        assert await during(12, 13) == ["a/2", "b/1", "c/2"]
        assert await during(10, 11) == ["a/2", "b/1", "c/2"]  # a/1 was replaced at minute 10 exactly
        assert await during(0, 21) == ["a/3", "a/2", "b/1", "c/2", "c/1", "a/1"]
        assert await during(0, 21, page=1) == await during(0, 21)
        assert await during(12, 13, page=1) == ["a/2", "b/1", "c/2"]
        assert await during(2, 3) == ["c/1", "a/1"]  # c/2 is written at minute 3, outside [2, 3)

    run_with_store(database, scenario)


def test_bodies_pass_through_the_codec(database: EmbeddedDatabase) -> None:
    async def scenario(store: MongoResourceStore, name: str) -> None:
        await store.write(_record(1, datetime.now(UTC)), replaces=None)
        raw: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database.uri)
        try:
            stored = await raw[name]["resources"].find_one({"_id": "Patient/p1"})
        finally:
            await raw.close()
        assert stored is not None
        assert stored["body"] == b'{"resourceType":"Patient"}'[::-1]
        record = await store.get("Patient", "p1")
        assert record is not None and record.resource() == {"resourceType": "Patient"}

    run_with_store(database, scenario, ReversingCodec())


def test_stream_walks_the_current_resources_of_a_type_in_batches(database: EmbeddedDatabase) -> None:
    async def scenario(store: MongoResourceStore, _name: str) -> None:
        when = datetime.now(UTC)
        for n in range(5):
            body = b'{"resourceType":"Observation","id":"o%d","status":"%s"}' % (n, b"final" if n % 2 else b"draft")
            await store.write(
                StoredResource("Observation", f"o{n}", 1, when, False, body), replaces=None, index={"st": n % 2}
            )
        await store.write(_record(1, when), replaces=None)  # another type
        await store.write(StoredResource("Observation", "o1", 2, when, True, None), replaces=1)  # deleted

        async def walked(query: CurrentQuery, batch: int) -> list[list[str]]:
            return [[record.id for record in records] async for records in store.stream(query, batch, 10_000)]

        assert await walked(CurrentQuery("Observation", {}), 2) == [["o0", "o2"], ["o3", "o4"]]
        assert await walked(CurrentQuery("Observation", {"st": 1}), 10) == [["o3"]]
        assert await walked(CurrentQuery("Observation", {}, ids=("o4", "o0", "o1")), 10) == [["o0", "o4"]]
        assert await walked(CurrentQuery("Encounter", {}), 10) == []
        records = store.stream(CurrentQuery("Observation", {}), 1, 0)
        assert [record.id for record in await anext(records)] == ["o0"]
        await records.aclose()  # a caller that stops early closes the cursor

    run_with_store(database, scenario)
