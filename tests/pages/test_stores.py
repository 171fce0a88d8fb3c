"""The page stores on the real database: startup with a roles file, session expiry, lock counting."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from fhir_server.config import Settings
from fhir_server.pages import PageStores
from fhir_server.storage import EmbeddedDatabase


def test_stores_open_with_the_roles_file_and_refuse_a_broken_one(database: EmbeddedDatabase, tmp_path: Path) -> None:
    roles = tmp_path / "roles.json"
    roles.write_text('{"locum": ["user/*.rs"]}')

    async def scenario() -> None:
        async with AsyncMongoClient[dict[str, Any]](database.uri) as mongo:
            settings = Settings(database=f"stores_{uuid.uuid4().hex[:8]}", roles_file=roles)
            stores = await PageStores.open(mongo, settings)
            assert stores.roles["locum"] == ["user/*.rs"] and "physician" in stores.roles
            roles.write_text("{not json")
            with pytest.raises(ValueError, match="Roles file"):
                await PageStores.open(mongo, settings)

    asyncio.run(scenario())


def test_sessions_expire_and_remember_picked_patients(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with AsyncMongoClient[dict[str, Any]](database.uri) as mongo:
            stores = await PageStores.open(mongo, Settings(database=f"stores_{uuid.uuid4().hex[:8]}"))
            now = datetime.now(UTC)
            value, session = await stores.sessions.start(now + timedelta(minutes=5), "nurse-1")
            await stores.sessions.pick_patient(value, "request-1", "p-1")
            found = await stores.sessions.get(value)
            assert found is not None and found.username == "nurse-1" and found.csrf == session.csrf
            assert found.patients == {"request-1": "p-1"}
            stale, _session = await stores.sessions.start(now - timedelta(seconds=1))
            assert await stores.sessions.get(stale) is None
            await stores.sessions.end(value)
            assert await stores.sessions.get(value) is None

    asyncio.run(scenario())


def test_lockouts_count_failures_and_a_success_clears_them(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with AsyncMongoClient[dict[str, Any]](database.uri) as mongo:
            settings = Settings(database=f"stores_{uuid.uuid4().hex[:8]}", login_max_failures=2)
            lockouts = (await PageStores.open(mongo, settings)).lockouts
            assert not await lockouts.fail("someone")
            await lockouts.clear("someone")
            assert not await lockouts.fail("someone") and not await lockouts.locked("someone")
            assert await lockouts.fail("someone") and await lockouts.locked("someone")
            assert not await lockouts.locked("someone-else")

    asyncio.run(scenario())
