"""The HTTP/1.1 protocol the server runs: uvicorn's httptools protocol with FHIR answers to bad requests.

uvicorn answers a request it cannot parse with a plain-text 400 before the application sees it;
here that answer is an OperationOutcome. The request head is also bounded, since httptools sets
no limit of its own (and fails on URLs over 65,535 bytes with that plain 400):

- a request target (path and query) over `MAX_URL_BYTES` gets 414 URI Too Long; a long search
  is sent as `POST [type]/_search` with a form body instead;
- header fields over `MAX_HEADER_BYTES` in total get 431 Request Header Fields Too Large;
- anything else the parser refuses gets 400.

Each of these answers says `Connection: close` and closes the connection, since the rest of what
the client sent can no longer be read as requests. Errors the application answers (4xx/5xx) keep
the connection open.
"""

from __future__ import annotations

import http

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..errors import Issue
from ..i18n import _
from .outcomes import operation_outcome

MAX_URL_BYTES = 64_000
"""Below the 65,535 bytes httptools' URL parser can take; far above what browsers send."""
MAX_HEADER_BYTES = 64 * 1024

__all__ = ["MAX_HEADER_BYTES", "MAX_URL_BYTES", "FhirHttpProtocol"]


class _HeadTooLarge(Exception):
    """Raised from a parser callback; httptools turns it into the parse error uvicorn answers."""


class FhirHttpProtocol(HttpToolsProtocol):
    """Pass as uvicorn's `http` setting (a protocol class is accepted there)."""

    _refusal: tuple[int, str] | None = None
    _header_bytes = 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            message = _("The request URL is longer than {limit} bytes; send a long search as POST [type]/_search.")
            self._refusal = (414, message.format(limit=MAX_URL_BYTES))
            raise _HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > MAX_HEADER_BYTES:
            message = _("The request header fields are longer than {limit} bytes in total.")
            self._refusal = (431, message.format(limit=MAX_HEADER_BYTES))
            raise _HeadTooLarge
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        """Answer a request the parser refused (uvicorn calls this), then close the connection."""
        status, text = self._refusal or (400, _("The request is not valid HTTP/1.1."))
        issue = Issue("error", "too-costly" if status != 400 else "structure", text)
        body = orjson.dumps(operation_outcome([issue]))
        head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n".encode()]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [
            b"content-type: application/fhir+json\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
