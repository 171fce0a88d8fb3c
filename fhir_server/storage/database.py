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
from .calendar_tokens import CalendarTokens
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
from .message_outbox import MessageOutbox
from .mongo import MongoResourceStore, connect_client
from .pharmacy_outbox import PharmacyOutbox
from .prescriber_keys import PrescriberKeys
from .reminders import ReminderStore
from .server_address import MongoServerAddress
from .sessions import MongoSessionStore
from .stock_ledger import StockLedgerStore
from .users import MongoUserStore
from .x12_control import MongoX12ControlNumbers

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
    message_outbox: MessageOutbox
    reminders: ReminderStore
    calendar_tokens: CalendarTokens
    pharmacy_outbox: PharmacyOutbox
    prescriber_keys: PrescriberKeys
    x12_control: MongoX12ControlNumbers
    billing_ledger: LedgerStore
    audit_log: MongoAuditLog | None
    """None when opened without the audit key (commands that neither write nor read the audit trail)."""
    stock: StockLedgerStore
    """The dispensary's stock ledger, reorder points and alerts (medications/stock)."""

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
            message_outbox=MessageOutbox(client, name),
            reminders=ReminderStore(client, name),
            calendar_tokens=CalendarTokens(client, name),
            x12_control=MongoX12ControlNumbers(client, name),
            billing_ledger=LedgerStore(resources),
            audit_log=MongoAuditLog(client, name, audit_key) if audit_key is not None else None,
            pharmacy_outbox=PharmacyOutbox(resources),
            prescriber_keys=PrescriberKeys(client, name),
            stock=StockLedgerStore(resources),
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
        await self.message_outbox.ensure_indexes()
        await self.reminders.ensure_indexes()
        await self.calendar_tokens.ensure_indexes()
        await self.pharmacy_outbox.ensure_indexes()
        await self.prescriber_keys.ensure_indexes()
        await self.stock.ensure_indexes()
        await self.billing_ledger.ensure_indexes()
