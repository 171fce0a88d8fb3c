"""One AuditEvent per HTTP request that reaches data or credentials, appended after the answer is sent.

FHIR REST requests (`/fhir/...`: reads, vreads, searches with their query, history,
operations, and every refused or failed request), the admin pages (`/admin/...`), and the
auth events: sign-in (`POST /auth/login`), token issue or refusal (`POST /auth/token`) and
revocation (`POST /auth/revoke`). A successful write is left out here: the write observer
(writes.py) already recorded one event per changed resource in the write's transaction.

The event is queued once the last byte of the response went out and written with the other
events of the same tenth of a second (queue.py): one insert per batch, not per request. `/fhir/metadata`
and discovery documents are public and not recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..rest.context import base_url
from .context import RequestAudit, begin_request
from .events import instant, rest_event, sign_in_event
from .queue import AuditQueue

_AUTH_EVENTS = {"/auth/login": "login", "/auth/token": "token", "/auth/revoke": "revoke"}
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


def _rest_event(scope: Scope, audit: RequestAudit, status: int, recorded: str) -> dict[str, object]:
    parts = [p for p in scope["path"][len("/fhir") :].split("/") if p]
    interaction = interaction_of(scope["method"], parts)
    what = ["/".join(parts[:4] if interaction == "vread" else parts[:2])] if len(parts) >= 2 else []
    query_string = scope["query_string"].decode("latin-1")
    query = None
    if interaction.startswith("search") or (interaction == "operation" and query_string):
        query = "/".join(parts[:1] if interaction == "search-type" else parts) + "?" + query_string
    patient = audit.policy.patient_compartment if audit.policy is not None else None
    return rest_event(
        interaction, audit.actor(), recorded, status, audit.server, what=what, query=query, patient=patient
    )


def _admin_event(scope: Scope, audit: RequestAudit, status: int, recorded: str) -> dict[str, object]:
    query = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
    return rest_event("operation", audit.actor(), recorded, status, audit.server, query=query)


def _auth_event(what: str, audit: RequestAudit, status: int, recorded: str) -> dict[str, object]:
    # the sign-in page answers a good password with a redirect, a wrong one with 400
    succeeded = 300 <= status < 400 if what == "login" else status < 400
    description = "locked out" if status == _LOCKED else (None if succeeded else f"HTTP {status}")
    return sign_in_event(
        audit.actor(), recorded, audit.server.removesuffix("/fhir"), succeeded=succeeded, what=what,
        description=description,
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
        audit = begin_request(base_url(Request(scope)), client[0] if client else None)
        status = 500

        async def keep_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, keep_status)
        finally:
            if not (audit.written and status < 400):
                await self._append(scope, kind, audit, status)

    async def _append(self, scope: Scope, kind: str, audit: RequestAudit, status: int) -> None:
        moment = datetime.now(UTC)
        recorded = instant(moment)
        if kind == "fhir":
            event = _rest_event(scope, audit, status, recorded)
        elif kind == "admin":
            event = _admin_event(scope, audit, status, recorded)
        else:
            event = _auth_event(kind, audit, status, recorded)
        queue: AuditQueue = scope["app"].state.audit_queue
        queue.put(event, moment)
