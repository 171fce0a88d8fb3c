"""Signing keys, used assertion ids and EHR launch contexts on the real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from fhir_server.oauth.signing import signing_key
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.jtis import MongoJtiStore
from fhir_server.storage.keys import MongoKeyStore
from fhir_server.storage.launches import LaunchContext, MongoLaunchStore


def test_workers_starting_together_settle_on_one_signing_key(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        name = f"keys_{uuid.uuid4().hex[:8]}"
        async with AsyncMongoClient[dict](database.uri, tz_aware=True) as mongo:
            store = MongoKeyStore(mongo, name)
            keys = await asyncio.gather(*(signing_key(store) for _ in range(4)))
            assert len({key.kid for key in keys}) == 1
            (public,) = await store.public_keys()
            assert public["kid"] == keys[0].kid and "d" not in public
            assert await mongo[name]["auth_keys"].count_documents({"jwk.d": {"$exists": True}}) == 0
            assert (await signing_key(store)).kid == keys[0].kid  # a restart reuses it

    asyncio.run(scenario())


def test_a_key_without_its_private_half_is_not_used(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        name = f"keys_{uuid.uuid4().hex[:8]}"
        async with AsyncMongoClient[dict](database.uri, tz_aware=True) as mongo:
            store = MongoKeyStore(mongo, name)
            first = await signing_key(store)
            await mongo[name]["auth_key_secrets"].delete_many({})  # e.g. public metadata restored alone
            second = await signing_key(store)
            assert second.kid != first.kid
            assert {k["kid"] for k in await store.public_keys()} == {first.kid, second.kid}

    asyncio.run(scenario())


def test_a_jti_is_accepted_once_per_client(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with AsyncMongoClient[dict](database.uri, tz_aware=True) as mongo:
            store = MongoJtiStore(mongo, f"jtis_{uuid.uuid4().hex[:8]}")
            await store.ensure_indexes()
            until = datetime.now(UTC) + timedelta(minutes=5)
            assert await store.use("a", "j1", until)
            assert not await store.use("a", "j1", until)
            assert await store.use("b", "j1", until)

    asyncio.run(scenario())


def test_launch_contexts_resolve_once_and_expire(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with AsyncMongoClient[dict](database.uri, tz_aware=True) as mongo:
            store = MongoLaunchStore(mongo, f"launch_{uuid.uuid4().hex[:8]}")
            await store.ensure_indexes()
            soon = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
            context = LaunchContext("app", "p1", "e1", soon, "Practitioner/1")
            handle = await store.create(context)
            assert await store.consume(handle) == context
            assert await store.consume(handle) is None
            stale = await store.create(LaunchContext("app", "p1", None, datetime.now(UTC) - timedelta(seconds=1)))
            assert await store.consume(stale) is None
            assert await store.consume("no-such-handle") is None

    asyncio.run(scenario())
