"""HTTP/1.1 over a raw socket: what a client sees of a connection, including when it is closed."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def says_close(self) -> bool:
        return self.headers.get("connection", "").lower() == "close"


def open_connection(base_url: str) -> socket.socket:
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=60)
    return sock


def request(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: test"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(sock: socket.socket, raw: bytes) -> RawResponse:
    """Send `raw` and read one response (with a Content-Length, as this server sends them)."""
    sock.sendall(raw)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {buffer[:200]!r}")
        buffer += chunk
    head, _sep, body = buffer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _colon, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the middle of a response body")
        body += chunk
    assert len(body) == length, "more bytes than the response announced"
    return RawResponse(int(status_line.split()[1]), headers, body)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed the connection (reading gives end of file, or a reset)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
