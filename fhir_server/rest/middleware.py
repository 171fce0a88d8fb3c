"""Per-request context: request id (X-Request-Id accepted and echoed), language, the last resort
for unexpected errors, and an access log line.

The access line names the method, the path, the query's parameter names (never their values:
`Patient?name=Chalmers` is logged as `params: ["name"]`), the status and the time taken. An
exception no handler turned into a response ends here as a 500 OperationOutcome with the
request id; it is not raised on to the server, so the connection stays usable (uvicorn would
close it without saying `Connection: close`) and the fault is logged once, without its message.

The language is chosen from `Accept-Language` among the catalogs the server has (i18n/). A
response whose texts went through the catalog says which language they are in
(`Content-Language`) and that another `Accept-Language` may get another text
(`Vary: Accept-Language`); other responses do not depend on the header and say neither.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..i18n import start_request
from ..logs import current_request_id
from .errors import unexpected_error_response
from .responses import with_vary

log = logging.getLogger("fhir_server.access")

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_MAX_LOGGED_PARAMS = 50

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
        choice = start_request(headers.get(b"accept-language", b"").decode("latin-1"))
        started = time.perf_counter()
        status, started_response = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                sent = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message["headers"] = _language_headers(sent, choice.language) if choice.used else sent
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"method": scope["method"], "path": scope["path"]})
            if not started_response:  # else uvicorn sees an unfinished response and closes the connection
                await unexpected_error_response(request_id)(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "params": _parameter_names(scope.get("query_string", b"")),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )


def _parameter_names(query: bytes) -> list[str]:
    """The distinct parameter names of a query string, in order, without their values."""
    names = dict.fromkeys(name for name, _value in parse_qsl(query.decode("latin-1"), keep_blank_values=True))
    return [name[:64] for name in names][:_MAX_LOGGED_PARAMS]


def _language_headers(headers: list[tuple[bytes, bytes]], language: str) -> list[tuple[bytes, bytes]]:
    """`headers` saying the text is in `language` (unless the handler said so) and varies with Accept-Language."""
    out = with_vary(headers, b"Accept-Language")
    if not any(name.lower() == b"content-language" for name, _value in headers):
        out.append((b"content-language", language.encode()))
    return out
