"""The composition root on the real database: every store on one client, closed however opening ends."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import InvalidOperation, OperationFailure

from fhir_server.config import Settings
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.database import Database
from fhir_server.storage.mongo import connect_client


def test_every_store_shares_one_client_and_it_is_closed_after(database: EmbeddedDatabase) -> None:
    settings = Settings(database=f"root_{uuid.uuid4().hex[:8]}").with_mongodb_uri(database.uri)
    made: list[AsyncMongoClient[dict[str, Any]]] = []

    def connect(uri: str) -> AsyncMongoClient[dict[str, Any]]:
        made.append(connect_client(uri))
        return made[-1]

    async def scenario() -> None:
        async with Database.open(settings, connect=connect) as opened:
            assert opened.resources.client is opened.client is made[0]
            names = await opened.client[settings.database].list_collection_names()
            assert {"resources", "jobs", "auth_sessions", "auth_lockouts", "hl7_messages", "hl7_outbox"} <= set(names)
        with pytest.raises(InvalidOperation):
            await made[0][settings.database].list_collection_names()

    asyncio.run(scenario())


def test_a_failure_half_way_through_open_closes_the_client(database: EmbeddedDatabase) -> None:
    """An index of the same name but other keys already there: ensuring the indexes fails after some were made."""
    settings = Settings(database=f"root_{uuid.uuid4().hex[:8]}").with_mongodb_uri(database.uri)
    made: list[AsyncMongoClient[dict[str, Any]]] = []

    def connect(uri: str) -> AsyncMongoClient[dict[str, Any]]:
        made.append(connect_client(uri))
        return made[-1]

    async def scenario() -> None:
        async with AsyncMongoClient[dict[str, Any]](database.uri) as mongo:
            await mongo[settings.database]["auth_sessions"].create_index([("elsewhere", 1)], name="expiry")
        with pytest.raises(OperationFailure):
            async with Database.open(settings, connect=connect):
                raise AssertionError("opened despite the conflicting index")
        with pytest.raises(InvalidOperation):
            await made[0][settings.database].list_collection_names()

    asyncio.run(scenario())
