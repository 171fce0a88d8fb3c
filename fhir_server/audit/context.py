"""Who is behind the current HTTP request, for its AuditEvent: set as the request goes through the app.

The audit middleware (requests.py) opens a `RequestAudit` for every audited request; the
policy dependency, the sign-in page and the OAuth endpoints fill in who turned out to be
calling; the write observer (writes.py) marks the request as audited when it recorded the
request's writes itself; the batch/transaction route lists the reads its entries made, each
to get its own event. A mutable holder in a context variable, so what the route learns is
seen by the middleware even where a framework runs the route in a copied context.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

from ..auth.policy import AccessPolicy
from .events import Actor


@dataclass(frozen=True)
class EntryRead:
    """A read or search entry of a batch or transaction: its method, its URL and the status it got."""

    method: str
    url: str
    status: int


@dataclass
class RequestAudit:
    """What one request's AuditEvent needs to know beyond its path and status."""

    server: str
    address: str | None = None
    request_id: str | None = None
    """The request's X-Request-Id (rest/middleware.py), recorded in each event the request causes."""
    policy: AccessPolicy | None = None
    username: str | None = None
    client_id: str | None = None
    patient: str | None = None
    """The patient an auth event concerns (the patient put in context by an EHR launch)."""
    written: bool = False
    """The write observer recorded this request's changes (one event per resource)."""
    bundle_type: str | None = None
    """`batch` or `transaction` when the request posted such a Bundle."""
    entry_reads: list[EntryRead] = field(default_factory=list)
    """The Bundle's read and search entries, in entry order."""

    def actor(self) -> Actor:
        """The agent of the event: the policy's user and app, else whoever the route named."""
        if self.policy is not None:
            return actor_of(self.policy, self.address)
        return Actor(client_id=self.client_id, username=self.username, address=self.address)


_current: ContextVar[RequestAudit | None] = ContextVar("fhir_server_request_audit", default=None)


def begin_request(server: str, address: str | None, request_id: str | None = None) -> RequestAudit:
    """Open the audit record of the request now being served."""
    audit = RequestAudit(server=server, address=address, request_id=request_id)
    _current.set(audit)
    return audit


def current_request() -> RequestAudit | None:
    """The audit record of the request being served, None outside HTTP (CLI, HL7 v2, jobs)."""
    return _current.get()


def note_policy(policy: AccessPolicy) -> None:
    """Record the caller's policy (no-op outside an audited request)."""
    audit = _current.get()
    if audit is not None:
        audit.policy = policy


def note_caller(*, username: str | None = None, client_id: str | None = None) -> None:
    """Record who a sign-in or an OAuth call claims to be, before the answer is known."""
    audit = _current.get()
    if audit is not None:
        audit.username = username or audit.username
        audit.client_id = client_id or audit.client_id


def note_launch(policy: AccessPolicy, patient: str | None) -> None:
    """Record who asks for a launch handle, and for which patient."""
    audit = _current.get()
    if audit is not None:
        audit.policy, audit.patient = policy, f"Patient/{patient}" if patient else None


def note_bundle(bundle_type: str) -> None:
    """Record that the request posts a batch or transaction Bundle (its event's subtype)."""
    audit = _current.get()
    if audit is not None:
        audit.bundle_type = bundle_type


def note_entry_reads(reads: list[EntryRead]) -> None:
    """Record the read and search entries a batch or transaction ran, each to get its own event."""
    audit = _current.get()
    if audit is not None:
        audit.entry_reads.extend(reads)


def actor_of(policy: AccessPolicy, address: str | None = None) -> Actor:
    """The Actor of a policy: the token's user and app, or the trusted caller's name (cli, hl7v2, open ...)."""
    username = policy.subject or (policy.actor if policy.trusted else None)
    return Actor(
        client_id=policy.client_id, username=username, fhir_user=policy.fhir_user, role=policy.role, address=address
    )


__all__ = [
    "EntryRead",
    "RequestAudit",
    "actor_of",
    "begin_request",
    "current_request",
    "note_bundle",
    "note_caller",
    "note_launch",
    "note_entry_reads",
    "note_policy",
]
