"""Clients, parked authorization requests and one-time codes on the real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.authorizations import (
    AuthorizationCode,
    AuthorizationRequest,
    CodeReused,
    MongoAuthorizationStore,
)
from fhir_server.storage.clients import PUBLIC, Client, ClientExists, MongoClientStore


def test_clients_register_once_and_read_back(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with AsyncMongoClient[dict](database.uri) as mongo:
            store = MongoClientStore(mongo, f"clients_{uuid.uuid4().hex[:8]}")
            app = Client("app", "Demo app", PUBLIC, ("http://localhost/app",), ("patient/*.rs", "launch"))
            await store.add(app)
            with pytest.raises(ClientExists):
                await store.add(app)
            with pytest.raises(ValueError, match="kind"):
                await store.add(Client("odd", "Odd", "telepathic"))
            found = await store.get("app")
            assert found == app
            assert [c.client_id for c in await store.all()] == ["app"]
            assert await store.remove("app") and await store.get("app") is None

    asyncio.run(scenario())


def test_parked_requests_expire_and_codes_redeem_once(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with AsyncMongoClient[dict](database.uri) as mongo:
            store = MongoAuthorizationStore(mongo, f"authz_{uuid.uuid4().hex[:8]}")
            await store.ensure_indexes()
            moment = datetime.now(UTC).replace(microsecond=0)
            soon = moment + timedelta(minutes=5)
            request = AuthorizationRequest("r1", "app", "http://localhost/app", ("openid",), "s", "challenge", soon)
            await store.park(request)
            assert await store.parked("r1") == request
            await store.unpark("r1")
            assert await store.parked("r1") is None
            await store.park(
                AuthorizationRequest("r2", "app", "u", (), "s", "c", datetime.now(UTC) - timedelta(seconds=1))
            )
            assert await store.parked("r2") is None
            code = AuthorizationCode("app", "http://a/app", ("patient/*.rs",), "challenge", moment, soon, patient="p1")
            value = await store.issue_code(code)
            assert await store.redeem_code(value, "family-1") == code
            with pytest.raises(CodeReused) as reused:  # a second use names the tokens to revoke
                await store.redeem_code(value)
            assert reused.value.family == "family-1"
            assert await store.settle_code(value, soon) is True  # the first redemption learns of it
            assert await store.redeem_code("no-such-code") is None
            stale = await store.issue_code(
                AuthorizationCode("app", "u", (), "c", moment, moment - timedelta(seconds=1))
            )
            assert await store.redeem_code(stale) is None

    asyncio.run(scenario())
