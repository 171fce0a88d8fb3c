"""The stores and settings the sign-in pages work with, opened once at startup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..config import Settings
from ..storage.authorizations import MongoAuthorizationStore
from ..storage.clients import MongoClientStore
from ..storage.database import Database
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
    def of(cls, database: Database, roles: dict[str, list[str]], settings: Settings) -> PageStores:
        """The page stores of `database` (opened, indexes ensured) with the roles loaded at startup."""
        return cls(
            users=database.users,
            lockouts=database.lockouts,
            sessions=database.sessions,
            authorizations=database.authorizations,
            clients=database.clients,
            roles=roles,
            session_time=timedelta(seconds=settings.session_seconds),
        )
