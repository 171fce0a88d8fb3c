"""Tokens: stored as digests, found while live, gone at once when revoked or expired."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from fhir_server.auth import Grant
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.grants import ACCESS, REFRESH, MongoGrantStore


def _grant(kind: str, family: str, expires_in: timedelta = timedelta(hours=1)) -> Grant:
    issued = datetime.now(UTC)
    return Grant(kind, "app", ("patient/*.rs", "openid"), issued, issued + expires_in, family, patient="p1")


def test_tokens_live_until_revoked_and_revocation_takes_the_family(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        name = f"grants_{uuid.uuid4().hex[:8]}"
        async with AsyncMongoClient[dict](database.uri, tz_aware=True) as client:
            store = MongoGrantStore(client, name)
            await store.ensure_indexes()
            access = await store.issue(_grant(ACCESS, "f1"))
            refresh = await store.issue(_grant(REFRESH, "f1"))
            other = await store.issue(_grant(ACCESS, "f2"))
            found = await store.lookup(access)
            assert found is not None and found.scopes == ("patient/*.rs", "openid") and found.patient == "p1"
            assert await store.lookup(refresh) is None  # a refresh token is not an access token
            assert await store.lookup(refresh, REFRESH) is not None
            assert await client[name]["auth_tokens"].count_documents({"_id": access}) == 0  # only digests stored
            assert await store.revoke(refresh)
            assert await store.lookup(access) is None and await store.lookup(refresh, REFRESH) is None
            assert await store.lookup(other) is not None
            assert not await store.revoke("no-such-token")
            expired = await store.issue(_grant(ACCESS, "f3", timedelta(seconds=-1)))
            assert await store.lookup(expired) is None

    asyncio.run(scenario())
