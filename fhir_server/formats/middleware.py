"""Negotiates the format of every FHIR response before the route runs, so a 406 changes nothing.

Pure ASGI and cheap for JSON: without `_format` and with no Accept (or `*/*`) it only sets the
default. Paths outside the FHIR base, and the SMART discovery document under it, are not FHIR
resources and are left alone. The 406 OperationOutcome is JSON: the one format always written.
Every FHIR response says `Vary: Accept` (merged into one header with what else it varies on), so a
cache never hands the XML answer to a client that asked for JSON.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import NotAcceptable
from ..rest.outcomes import error_outcome
from ..rest.responses import FhirResponse, with_vary
from .negotiation import Format, format_parameter, requested_format, response_format

FHIR_BASE = "/fhir"
_UNDER_BASE = f"{FHIR_BASE}/"
_NOT_FHIR = f"{FHIR_BASE}/.well-known/"
OWN_FORMATS = ("/$viewdefinition-run", "/$viewdefinition-export-file/", "/$report")
"""Operations that write their own formats (csv, parquet ...) from `_format`/Accept: not negotiated
here; their OperationOutcomes are JSON."""


class FormatMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        chosen = Format.JSON
        if (path == FHIR_BASE or path.startswith(_UNDER_BASE)) and not path.startswith(_NOT_FHIR):
            send = _varying_on_accept(send)
            query: bytes = scope.get("query_string", b"")
            accept = [value for name, value in scope["headers"] if name == b"accept"]
            if (accept or b"_format=" in query) and not any(part in path for part in OWN_FORMATS):
                try:
                    chosen = requested_format(format_parameter(query), b", ".join(accept).decode("latin-1"))
                except NotAcceptable as exc:
                    response_format.set(Format.JSON)
                    await FhirResponse(error_outcome(exc), status_code=exc.status)(scope, receive, send)
                    return
        response_format.set(chosen)
        await self.app(scope, receive, send)


def _varying_on_accept(send: Send) -> Send:
    async def send_varying(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = with_vary(list(message.get("headers", [])), b"Accept")
        await send(message)

    return send_varying
