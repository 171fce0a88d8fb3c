"""Per-request context: request id (X-Request-Id accepted and echoed), language and an access log line."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..i18n import current_language, preferred_language
from ..logs import current_request_id

log = logging.getLogger("fhir_server.access")

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

__all__ = ["RequestContextMiddleware", "current_request_id"]


class RequestContextMiddleware:
    """Pure ASGI, so it costs little on every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        sent_id = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = sent_id if _SAFE_REQUEST_ID.fullmatch(sent_id) else uuid.uuid4().hex
        current_request_id.set(request_id)
        current_language.set(preferred_language(headers.get(b"accept-language", b"").decode("latin-1")))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
