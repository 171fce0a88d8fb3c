"""Walks of one type and of a patient's compartment read that type or that patient, not the whole collection.

SecantusDB answers a range of `_id` by scanning the whole collection, and any hinted find by reading
all of it, so a type walk goes by the `type` index and no query carries a hint. The results are the
same: in id order, paged, access criteria kept beside the page cursor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fhir_server.storage import CurrentQuery, EmbeddedDatabase, MongoResourceStore, PendingWrite, StoredResource
from tests.sent_commands import SentCommands, listened_store


def _write(resource_type: str, resource_id: str, patient: str) -> PendingWrite:
    body = f'{{"resourceType":"{resource_type}","id":"{resource_id}"}}'.encode()
    record = StoredResource(resource_type, resource_id, 1, datetime.now(UTC), False, body)
    return PendingWrite(record, None, {"idx": [], "keys": [], "sort": {}, "compartments": [f"Patient/{patient}"]})


def _run(database: EmbeddedDatabase, scenario: Any) -> None:
    async def main() -> None:
        sent = SentCommands("resources")
        async with listened_store(database.uri, "walks", sent) as store:
            writes = [_write("Observation", f"o{n:02d}", f"p{n % 3}") for n in range(30)]
            await store.write_all(writes[:8])
            await store.write_all(writes[8:16])
            await store.write_all(writes[16:24])
            await store.write_all(writes[24:])
            await store.write_all([_write("Schedule", f"s{n}", "p0") for n in range(3)])
            sent.sent.clear()
            await scenario(store)
            assert not [command for _name, command in sent.sent if "hint" in command], "no hinted query"
            assert "type" in await store.client[store.database_name]["resources"].index_information()

    asyncio.run(main())


def test_a_type_walk_pages_in_id_order(database: EmbeddedDatabase) -> None:
    async def scenario(store: MongoResourceStore) -> None:
        assert [r.id for r in await store.find(CurrentQuery("Schedule", {}), 10)] == ["s0", "s1", "s2"]
        first = await store.find(CurrentQuery("Observation", {}), 10)
        after = await store.find(CurrentQuery("Observation", {}, after=first[-1].id), 10)
        assert [r.id for r in [*first, *after]] == [f"o{n:02d}" for n in range(20)]
        streamed = [r.id async for batch in store.stream(CurrentQuery("Observation", {}), 7, 0) for r in batch]
        assert streamed == [f"o{n:02d}" for n in range(30)]
        assert await store.count(CurrentQuery("Schedule", {})) == 3

    _run(database, scenario)


def test_a_compartment_page_keeps_the_access_criteria_beside_its_cursor(database: EmbeddedDatabase) -> None:
    async def scenario(store: MongoResourceStore) -> None:
        mine = [f"o{n:02d}" for n in range(0, 30, 3)]
        page = await store.find_compartment(["Patient/p0"], ["Observation"], None, None, 4)
        assert [r.id for r in page] == mine[:4]
        allowed = {"_id": {"$in": ["Observation/o03", "Observation/o09", "Observation/o10"]}}
        later = await store.find_compartment(["Patient/p0"], None, None, "Observation/o03", 10, allowed)
        assert [r.id for r in later] == ["o09"], "the criteria's `_id` and the cursor's both hold"
        assert await store.count_compartment(["Patient/p0"], ["Observation", "Schedule"], None) == 13
        assert await store.count_compartment(None, ["Schedule"], None) == 3

    _run(database, scenario)
