"""The stores and settings the sign-in pages work with, opened once at startup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient

from ..auth.roles import load_roles
from ..config import Settings
from ..storage.authorizations import MongoAuthorizationStore
from ..storage.clients import MongoClientStore
from ..storage.lockouts import MongoLockoutStore
from ..storage.sessions import MongoSessionStore
from ..storage.users import MongoUserStore


@dataclass(frozen=True)
class PageStores:
    """Accounts, lockouts, browser sessions, parked requests and codes, clients, and the roles' ceilings."""

    users: MongoUserStore
    lockouts: MongoLockoutStore
    sessions: MongoSessionStore
    authorizations: MongoAuthorizationStore
    clients: MongoClientStore
    roles: dict[str, list[str]]
    session_time: timedelta

    @classmethod
    async def open(cls, client: AsyncMongoClient[dict[str, Any]], settings: Settings) -> PageStores:
        """Stores on `settings.database`, with their indexes ensured; raise ValueError for a bad roles file."""
        database = settings.database
        stores = cls(
            users=MongoUserStore(client, database),
            lockouts=MongoLockoutStore(
                client,
                database,
                max_failures=settings.login_max_failures,
                lock=timedelta(seconds=settings.login_lock_seconds),
            ),
            sessions=MongoSessionStore(client, database),
            authorizations=MongoAuthorizationStore(client, database),
            clients=MongoClientStore(client, database),
            roles=load_roles(settings.roles_file),
            session_time=timedelta(seconds=settings.session_seconds),
        )
        await stores.lockouts.ensure_indexes()
        await stores.sessions.ensure_indexes()
        await stores.authorizations.ensure_indexes()
        return stores
