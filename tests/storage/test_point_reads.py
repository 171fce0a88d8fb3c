"""Batched reads by id (storage/point_reads.py, batching.py): concurrent reads go as fewer finds, each caller
gets its own document, a time-limited read goes alone, and a failed batch leaves each read to run alone.

The database tests count the finds the driver sends with a command listener on a real client.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from fhir_server.errors import StorageUnavailable
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore, PendingWrite, StoredResource
from fhir_server.storage.batching import Batcher
from tests.sent_commands import SentCommands, listened_store


class Finds(SentCommands):
    """The `find` commands sent, as their filters (and whether each carried a time limit)."""

    def __init__(self) -> None:
        super().__init__("resources", "history")

    @property
    def filters(self) -> list[tuple[dict[str, Any], bool]]:
        return [(dict(command["filter"]), "maxTimeMS" in command) for name, command in self.sent if name == "find"]


def _patient(n: int) -> PendingWrite:
    body = f'{{"resourceType":"Patient","id":"p{n}","gender":"female"}}'.encode()
    return PendingWrite(StoredResource("Patient", f"p{n}", 1, datetime.now(UTC), False, body), None, {})


def _run(database: EmbeddedDatabase, scenario: Any) -> None:
    async def main() -> None:
        finds = Finds()
        async with listened_store(database.uri, "reads", finds) as store:
            await store.write_all([_patient(n) for n in range(8)])
            finds.sent.clear()
            await scenario(store, finds)

    asyncio.run(main())


def test_concurrent_reads_go_as_fewer_finds_and_each_gets_its_own_document(database: EmbeddedDatabase) -> None:
    async def scenario(store: MongoResourceStore, finds: Finds) -> None:
        wanted = [f"p{n % 8}" for n in range(40)] + ["missing", "p3"]
        found = await asyncio.gather(*(store.get("Patient", rid) for rid in wanted))
        assert [record.id if record else None for record in found] == [*wanted[:-2], None, "p3"]
        assert all(record is None or record.body and f'"{record.id}"'.encode() in record.body for record in found)
        assert len(finds.filters) < len(wanted) / 4
        assert finds.filters[0] == ({"_id": "Patient/p0"}, False)  # the first read went at once, alone
        assert any("$in" in filter_["_id"] for filter_, _limited in finds.filters[1:])

        versions = await asyncio.gather(*(store.get_version("Patient", f"p{n}", 1 + n // 8) for n in range(16)))
        assert [bool(v) for v in versions] == [True] * 8 + [False] * 8

    _run(database, scenario)


def test_a_lone_read_and_a_time_limited_read_go_alone(database: EmbeddedDatabase) -> None:
    async def scenario(store: MongoResourceStore, finds: Finds) -> None:
        assert (await store.get("Patient", "p1")) is not None
        with store.time_limit(5_000):
            found = await asyncio.gather(*(store.get("Patient", f"p{n}") for n in range(8)))
        assert all(found)
        assert finds.filters[0] == ({"_id": "Patient/p1"}, False)
        limited = sorted(filter_["_id"] for filter_, limited in finds.filters[1:] if limited)
        assert limited == [f"Patient/p{n}" for n in range(8)] and len(finds.filters) == 9

    _run(database, scenario)


def test_a_failed_batch_leaves_each_call_to_run_alone() -> None:
    async def main() -> None:
        release = asyncio.Event()
        alone_calls: list[str] = []

        async def alone(key: str) -> str:
            alone_calls.append(key)
            if key == "first":
                await release.wait()
            if key == "bad":
                raise StorageUnavailable("bad alone")
            return key.upper()

        async def together(keys: list[str]) -> list[str]:
            raise StorageUnavailable("the batch failed")

        batcher = Batcher(alone, together, fits=lambda keys, key: True)
        first = asyncio.create_task(batcher.run("first"))
        await asyncio.sleep(0)
        queued = [asyncio.create_task(batcher.run(key)) for key in ("a", "bad", "b")]
        await asyncio.sleep(0)
        release.set()
        assert await first == "FIRST"
        results = await asyncio.gather(*queued, return_exceptions=True)
        assert results[0] == "A" and results[2] == "B"
        assert isinstance(results[1], StorageUnavailable) and str(results[1]) == "bad alone"
        assert sorted(alone_calls) == ["a", "b", "bad", "first"]
        await batcher.close()

    asyncio.run(main())


@pytest.mark.parametrize("keys", [["x", "y"], ["x", "x", "z"]])
def test_a_batch_hands_each_caller_its_own_result(keys: list[str]) -> None:
    async def main() -> None:
        release = asyncio.Event()
        groups: list[list[str]] = []

        async def alone(key: str) -> str:
            await release.wait()
            return f"alone {key}"

        async def together(batch: list[str]) -> list[str]:
            groups.append(batch)
            return [f"together {key}" for key in batch]

        batcher = Batcher(alone, together, fits=lambda batch, key: True)
        first = asyncio.create_task(batcher.run("first"))
        await asyncio.sleep(0)
        queued = [asyncio.create_task(batcher.run(key)) for key in keys]
        await asyncio.sleep(0)
        release.set()
        assert await first == "alone first"
        assert await asyncio.gather(*queued) == [f"together {key}" for key in keys]
        assert groups == [keys]

    asyncio.run(main())
