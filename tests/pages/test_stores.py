"""The page stores on the real database: startup with a roles file, session expiry, lock counting."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fhir_server.auth.roles import load_roles
from fhir_server.config import Settings
from fhir_server.pages import PageStores
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.database import Database


def test_stores_open_with_the_roles_file_and_refuse_a_broken_one(database: EmbeddedDatabase, tmp_path: Path) -> None:
    roles = tmp_path / "roles.json"
    roles.write_text('{"locum": ["user/*.rs"]}')

    async def scenario() -> None:
        settings = Settings(database=f"stores_{uuid.uuid4().hex[:8]}", roles_file=roles)
        async with Database.open(settings.with_mongodb_uri(database.uri)) as opened:
            stores = PageStores.of(opened, load_roles(settings.roles_file), settings)
            assert stores.roles["locum"] == ["user/*.rs"] and "physician" in stores.roles
            roles.write_text("{not json")
            with pytest.raises(ValueError, match="Roles file"):
                load_roles(settings.roles_file)

    asyncio.run(scenario())


def test_sessions_expire_and_remember_picked_patients(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        settings = Settings(database=f"stores_{uuid.uuid4().hex[:8]}").with_mongodb_uri(database.uri)
        async with Database.open(settings) as opened:
            stores = PageStores.of(opened, {}, settings)
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
        settings = Settings(database=f"stores_{uuid.uuid4().hex[:8]}", login_max_failures=2)
        async with Database.open(settings.with_mongodb_uri(database.uri)) as opened:
            lockouts = opened.lockouts
            assert not await lockouts.fail("someone")
            await lockouts.clear("someone")
            assert not await lockouts.fail("someone") and not await lockouts.locked("someone")
            assert await lockouts.fail("someone") and await lockouts.locked("someone")
            assert not await lockouts.locked("someone-else")

    asyncio.run(scenario())
