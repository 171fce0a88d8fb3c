"""The write observer of the audit log: one AuditEvent per created, updated, patched or deleted resource.

Registered at start (engine/observers.py) for the process's audit log, whose key gives each record
its MAC, so each event is inserted into the log's inbox in the transaction of the change it
records: a rolled-back write leaves no event, a committed one always has its event. The events of
a write of several resources (a transaction Bundle, an import chunk) go in as one pack
(storage/audit.py `packs`), so a 200-resource Bundle adds one document to the inbox, not 200; so do
the events of the single writes that commit together (storage/commit_group.py, `combined`).
Who acted comes from the engine call's policy (REST token, or a trusted caller's name
such as cli, hl7v2, import); where from and the X-Request-Id, from the HTTP request if there is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from ..auth.policy import AccessPolicy
from ..engine.observers import Observer, writing_policy
from ..storage import LinkedDocument, PendingWrite, ResourceStore
from ..storage.audit import AUDIT_INBOX, MongoAuditLog
from .context import actor_of, current_request
from .events import instant, rest_event

SERVER = "fhir-server"
"""The `server` of events written outside HTTP, where no base URL is known."""

_UNKNOWN = AccessPolicy.system("unknown")


def _interaction(write: PendingWrite) -> str:
    method = write.record.method
    if write.record.deleted or method == "DELETE":
        return "delete"
    if method == "PATCH":
        return "patch"
    return "create" if write.replaces is None else "update"


def audit_writes(audit: MongoAuditLog) -> Observer:
    """The write observer that records writes in `audit` (register it with `add_write_observer`)."""

    async def observe(store: ResourceStore, writes: Sequence[PendingWrite]) -> list[LinkedDocument]:
        """The audit records of `writes`, for the `audit` collection; marks the HTTP request as audited."""
        request = current_request()
        policy = writing_policy() or (request.policy if request is not None else None) or _UNKNOWN
        actor = actor_of(policy, request.address if request is not None else None)
        server = request.server if request is not None else SERVER
        request_id = request.request_id if request is not None else None
        now = datetime.now(UTC)
        events = [
            rest_event(
                _interaction(write),
                actor,
                instant(now),
                200,
                server,
                what=[f"{write.record.reference}/_history/{write.record.version_id}"],
                patient=policy.patient_compartment,
                request_id=request_id,
            )
            for write in writes
        ]
        single = len(events) == 1
        records = [audit.record(events[0], now)] if single else audit.packs([(event, now) for event in events])
        documents = [LinkedDocument(AUDIT_INBOX, record, combine=audit.combined) for record in records]
        if request is not None and documents:
            request.written = True
        return documents

    return observe
