"""The composition root of storage: one driver client and every store built on it.

The app lifespan and the CLI commands open a `Database` and hand it (or the stores in it) to
whatever needs them; no other module builds a store or creates indexes. A new workflow's store
is added here, next to the others, and its indexes to `ensure_indexes`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient

from ..config import Settings
from .audit import MongoAuditLog
from .audit_seal import AuditKey
from .authorizations import MongoAuthorizationStore
from .backup import MongoBackupStore
from .billing_ledger import LedgerStore
from .clients import MongoClientStore
from .duty_leases import MongoDutyLeases
from .files import MongoFileStore
from .grants import MongoGrantStore
from .hl7_messages import MessageStore
from .hl7_outbox import OutboxStore
from .imports import MongoImportRecords
from .jobs import MongoJobStore
from .jtis import MongoJtiStore
from .keys import MongoKeyStore
from .launches import MongoLaunchStore
from .lockouts import MongoLockoutStore
from .mongo import MongoResourceStore, connect_client
from .server_address import MongoServerAddress
from .sessions import MongoSessionStore
from .users import MongoUserStore

Connect = Callable[[str], AsyncMongoClient[dict[str, Any]]]


@dataclass(frozen=True)
class Database:
    """Every store of one MongoDB database, sharing one client (durable writes, exact decimals)."""

    client: AsyncMongoClient[dict[str, Any]]
    resources: MongoResourceStore
    jobs: MongoJobStore
    duties: MongoDutyLeases
    files: MongoFileStore
    grants: MongoGrantStore
    authorizations: MongoAuthorizationStore
    sessions: MongoSessionStore
    users: MongoUserStore
    clients: MongoClientStore
    launches: MongoLaunchStore
    jtis: MongoJtiStore
    lockouts: MongoLockoutStore
    keys: MongoKeyStore
    imports: MongoImportRecords
    backup: MongoBackupStore
    hl7_messages: MessageStore
    hl7_outbox: OutboxStore
    server_address: MongoServerAddress
    billing_ledger: LedgerStore
    audit_log: MongoAuditLog | None
    """None when opened without the audit key (commands that neither write nor read the audit trail)."""

    @classmethod
    def build(
        cls, client: AsyncMongoClient[dict[str, Any]], settings: Settings, audit_key: AuditKey | None = None
    ) -> Database:
        """The stores on `client`; nothing is sent to the database yet."""
        name = settings.database
        resources = MongoResourceStore(client, name)
        return cls(
            client=client,
            resources=resources,
            jobs=MongoJobStore(client, name),
            duties=MongoDutyLeases(client, name),
            files=MongoFileStore(client, name),
            grants=MongoGrantStore(client, name),
            authorizations=MongoAuthorizationStore(client, name),
            sessions=MongoSessionStore(client, name),
            users=MongoUserStore(client, name),
            clients=MongoClientStore(client, name),
            launches=MongoLaunchStore(client, name),
            jtis=MongoJtiStore(client, name),
            lockouts=MongoLockoutStore(
                client,
                name,
                max_failures=settings.login_max_failures,
                lock=timedelta(seconds=settings.login_lock_seconds),
            ),
            keys=MongoKeyStore(client, name),
            imports=MongoImportRecords(client, name),
            backup=MongoBackupStore(client, name),
            hl7_messages=MessageStore(resources),
            hl7_outbox=OutboxStore(resources),
            server_address=MongoServerAddress(client, name),
            billing_ledger=LedgerStore(resources),
            audit_log=MongoAuditLog(client, name, audit_key) if audit_key is not None else None,
        )

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        audit_key: AuditKey | None = None,
        *,
        indexes: bool = True,
        connect: Connect = connect_client,
    ) -> AsyncIterator[Database]:
        """Connect, ensure every index (unless `indexes` is False), and close the client on leaving.

        The client is closed however the block ends, a failure while ensuring the indexes included.
        """
        if not settings.mongodb_uri:
            raise ValueError("Database.open needs settings.mongodb_uri")
        client = connect(settings.mongodb_uri)
        try:
            database = cls.build(client, settings, audit_key)
            if indexes:
                await database.ensure_indexes()
            yield database
        finally:
            await client.close()

    @property
    def audit(self) -> MongoAuditLog:
        """The audit log; only for a Database opened with the audit key."""
        if self.audit_log is None:
            raise RuntimeError("this Database was opened without the audit key")
        return self.audit_log

    async def ensure_indexes(self) -> None:
        """Every store's indexes (safe at every start); the audit log's also creates the collection
        the write transactions insert into."""
        await self.resources.ensure_indexes()
        await self.jobs.ensure_indexes()
        await self.files.ensure_indexes()
        if self.audit_log is not None:
            await self.audit_log.ensure_indexes()
        for store in (self.grants, self.authorizations, self.launches, self.jtis, self.lockouts, self.sessions):
            await store.ensure_indexes()
        await self.hl7_messages.ensure_indexes()
        await self.hl7_outbox.ensure_indexes()
        await self.billing_ledger.ensure_indexes()
