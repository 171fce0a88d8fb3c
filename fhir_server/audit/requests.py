"""One AuditEvent per HTTP request that reaches data or credentials, appended after the answer is sent.

FHIR REST requests (`/fhir/...`: reads, vreads, searches with their query, history,
operations, and every refused or failed request), the admin pages (`/admin/...`), and the
auth events: sign-in (`POST /auth/login`), token issue or refusal (`POST /auth/token`),
revocation (`POST /auth/revoke`) and EHR launches (`POST /auth/launch`, the staff launch page,
with the patient put in context). A successful write is left out here: the write observer
(writes.py) already recorded one event per changed resource in the write's transaction.

A batch or transaction Bundle (`POST /fhir`) always gets its own event (subtype `batch` or
`transaction`, the Bundle's HTTP outcome), and each of its read and search entries gets one
more, shaped as if the entry had been sent on its own, with the entry's status as outcome;
its write entries are the write observer's. Every event a request causes carries the
request's X-Request-Id (BALP's `transaction` entity), so they can be found together.

The event is queued once the last byte of the response went out and written with the other
events of the same tenth of a second (queue.py): one insert per batch, not per request. `/fhir/metadata`
and discovery documents are public and not recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..logs import current_request_id
from ..rest.context import base_url
from .context import EntryRead, RequestAudit, begin_request
from .events import instant, rest_event, sign_in_event
from .queue import AuditQueue

_AUTH_EVENTS = {
    "/auth/login": "login",
    "/auth/token": "token",
    "/auth/revoke": "revoke",
    "/auth/launch": "launch",
    "/auth/launch-app": "launch",
}
_UNRECORDED = ("metadata", ".well-known")
_LOCKED = 429


def _instance(method: str, parts: list[str]) -> str:
    if len(parts) == 2:
        return {"GET": "read", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(method, "operation")
    if parts[2] == "_history":
        return "vread" if len(parts) == 4 else "history-instance"
    return "operation" if parts[2].startswith("$") else "search-compartment"


def interaction_of(method: str, parts: list[str]) -> str:
    """The restful-interaction code of a request on `[base]/` + `parts` (for $operations: operation)."""
    method = "GET" if method == "HEAD" else method
    if not parts:
        return "search-system" if method == "GET" else "batch"
    last = parts[-1]
    if last.startswith("$"):
        return "operation"
    if len(parts) == 1:
        if last == "_history":
            return "history-system"
        if last == "_search":
            return "search-system"
        return {"GET": "search-type", "POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, "delete")
    if parts[1] in ("_search", "_history"):
        return "search-type" if parts[1] == "_search" else "history-type"
    return _instance(method, parts)


def _access_event(
    method: str, path: str, query_string: str, audit: RequestAudit, status: int, recorded: str
) -> dict[str, object]:
    """The event of `method` on `[base]/` + `path` (?`query_string`): a request, or a Bundle entry."""
    parts = [p for p in path.split("/") if p]
    interaction = interaction_of(method, parts)
    if interaction == "batch" and audit.bundle_type is not None:
        interaction = audit.bundle_type
    what = ["/".join(parts[:4] if interaction == "vread" else parts[:2])] if len(parts) >= 2 else []
    query = None
    if interaction.startswith("search") or (interaction == "operation" and query_string):
        query = "/".join(parts[:1] if interaction == "search-type" else parts) + "?" + query_string
    patient = audit.policy.patient_compartment if audit.policy is not None else None
    return rest_event(
        interaction, audit.actor(), recorded, status, audit.server, what=what, query=query, patient=patient,
        request_id=audit.request_id,
    )  # fmt: skip


def _rest_event(scope: Scope, audit: RequestAudit, status: int, recorded: str) -> dict[str, object]:
    path = scope["path"][len("/fhir") :]
    return _access_event(scope["method"], path, scope["query_string"].decode("latin-1"), audit, status, recorded)


def _entry_event(entry: EntryRead, audit: RequestAudit, recorded: str) -> dict[str, object]:
    url = entry.url.removeprefix(audit.server + "/").lstrip("/")
    path, _sep, query_string = url.partition("?")
    return _access_event(entry.method, path, query_string, audit, entry.status, recorded)


def _admin_event(scope: Scope, audit: RequestAudit, status: int, recorded: str) -> dict[str, object]:
    query = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
    return rest_event(
        "operation", audit.actor(), recorded, status, audit.server, query=query, request_id=audit.request_id
    )


def _auth_event(what: str, audit: RequestAudit, status: int, recorded: str) -> dict[str, object]:
    # the sign-in page answers a good password with a redirect, a wrong one with 400
    succeeded = 300 <= status < 400 if what == "login" else status < 400
    description = "locked out" if status == _LOCKED else (None if succeeded else f"HTTP {status}")
    return sign_in_event(
        audit.actor(), recorded, audit.server.removesuffix("/fhir"), succeeded=succeeded, what=what,
        description=description, request_id=audit.request_id, patient=audit.patient,
    )  # fmt: skip


def _recorded(scope: Scope) -> str | None:
    """Which kind of event the request gets: "fhir", "admin", an auth event code, or None."""
    path, method = scope["path"], scope["method"]
    if path == "/fhir" or path.startswith("/fhir/"):
        rest = path[len("/fhir/") :]
        return None if method == "OPTIONS" or rest.startswith(_UNRECORDED) else "fhir"
    if path.startswith("/admin/"):
        return "admin"
    return _AUTH_EVENTS.get(path) if method == "POST" else None


class AuditMiddleware:
    """Pure ASGI: opens the request's RequestAudit, and appends its AuditEvent once the answer is out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = _recorded(scope) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        audit = begin_request(base_url(Request(scope)), client[0] if client else None, current_request_id.get())
        status = 500

        async def keep_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, keep_status)
        finally:
            self._append(scope, kind, audit, status)

    @staticmethod
    def _append(scope: Scope, kind: str, audit: RequestAudit, status: int) -> None:
        moment = datetime.now(UTC)
        recorded = instant(moment)
        events = []
        # a single write's event is the observer's; a Bundle keeps its own beside its entries'
        if audit.bundle_type is not None or not (audit.written and status < 400):
            if kind == "fhir":
                events.append(_rest_event(scope, audit, status, recorded))
            elif kind == "admin":
                events.append(_admin_event(scope, audit, status, recorded))
            else:
                events.append(_auth_event(kind, audit, status, recorded))
        events += [_entry_event(entry, audit, recorded) for entry in audit.entry_reads]
        queue: AuditQueue = scope["app"].state.audit_queue
        for event in events:
            queue.put(event, moment)
