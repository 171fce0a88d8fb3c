"""The one lease implementation (storage/leases.py) against the real embedded database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fhir_server.engine.identity import now
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.leases import Leases, new_worker


def _with_leases(database: EmbeddedDatabase, scenario: Callable[[Leases, Any], Awaitable[None]]) -> None:
    async def run() -> None:
        store = MongoResourceStore.connect(database.uri, f"leases_{uuid.uuid4().hex[:8]}")
        try:
            collection = store.client[store.database_name]["work"]
            await collection.insert_one({"_id": "w1", "worker": None, "leaseUntil": None})
            await scenario(Leases(collection), collection)
        finally:
            await store.close()

    asyncio.run(run())


def test_two_contenders_one_wins(database: EmbeddedDatabase) -> None:
    async def scenario(leases: Leases, _collection: Any) -> None:
        at = now()
        taken = await asyncio.gather(*(leases.claim({"_id": "w1"}, f"worker-{i}", at) for i in range(8)))
        winners = [doc["worker"] for doc in taken if doc is not None]
        assert len(winners) == 1
        assert await leases.claim({"_id": "w1"}, "late", now()) is None

    _with_leases(database, scenario)


def test_an_expired_lease_is_taken_again(database: EmbeddedDatabase) -> None:
    async def scenario(leases: Leases, _collection: Any) -> None:
        assert await leases.claim({"_id": "w1"}, "a", now(), duration=timedelta(seconds=-1)) is not None
        taken = await leases.claim({"_id": "w1"}, "b", now())
        assert taken is not None and taken["worker"] == "b"
        assert not await leases.renew({"_id": "w1"}, "a", now())  # a lost it

    _with_leases(database, scenario)


def test_renew_by_the_holder_only(database: EmbeddedDatabase) -> None:
    async def scenario(leases: Leases, collection: Any) -> None:
        first = await leases.claim({"_id": "w1"}, "a", now())
        assert first is not None
        assert not await leases.renew({"_id": "w1"}, "b", now(), also={"note": "b"})
        assert await leases.renew({"_id": "w1"}, "a", now(), duration=timedelta(minutes=5), also={"note": "a"})
        doc = await collection.find_one({"_id": "w1"})
        assert doc["worker"] == "a" and doc["note"] == "a" and doc["leaseUntil"] > first["leaseUntil"]

    _with_leases(database, scenario)


def test_release_frees_the_work_and_only_its_holder_releases(database: EmbeddedDatabase) -> None:
    async def scenario(leases: Leases, collection: Any) -> None:
        assert await leases.claim({"_id": "w1"}, "a", now()) is not None
        assert not await leases.release({"_id": "w1"}, "b")
        assert await leases.claim({"_id": "w1"}, "b", now()) is None
        assert await leases.release({"_id": "w1"}, "a", also={"status": "done"})
        doc = await collection.find_one({"_id": "w1"})
        assert doc["worker"] is None and doc["leaseUntil"] is None and doc["status"] == "done"
        taken = await leases.claim({"_id": "w1"}, "b", now())
        assert taken is not None and taken["worker"] == "b"

    _with_leases(database, scenario)


def test_a_gone_holder_of_this_machine_loses_its_lease(database: EmbeddedDatabase) -> None:
    async def scenario(leases: Leases, _collection: Any) -> None:
        dead = new_worker().split("/")
        dead[1] = "999999999"  # no such pid
        holder = "/".join(dead)
        assert await leases.claim({"_id": "w1"}, holder, now(), duration=timedelta(minutes=5)) is not None
        assert await leases.claim({"_id": "w1"}, "b", now()) is None
        taken = await leases.claim({"_id": "w1"}, "b", now(), gone=[holder])
        assert taken is not None and taken["worker"] == "b"

    _with_leases(database, scenario)


def test_rejoin_renews_the_holders_own_lease_and_a_custom_holder_field(database: EmbeddedDatabase) -> None:
    async def scenario(_leases: Leases, collection: Any) -> None:
        expired = now() - timedelta(seconds=1)  # not now(): a claim in the same millisecond would find it held
        await collection.insert_one({"_id": "head", "sealer": None, "leaseUntil": expired})
        heads = Leases(collection, holder="sealer")
        assert await heads.claim({"_id": "head"}, "s1", now()) is not None
        assert await heads.claim({"_id": "head"}, "s1", now()) is None  # without rejoin, held is held
        again = await heads.claim({"_id": "head"}, "s1", now(), rejoin=True)
        assert again is not None and again["sealer"] == "s1"
        assert await heads.claim({"_id": "head"}, "s2", now(), rejoin=True) is None

    _with_leases(database, scenario)
