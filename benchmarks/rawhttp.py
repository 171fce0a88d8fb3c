"""A minimal HTTP/1.1 keep-alive client for benchmarks.

httpx spends 2-4 ms of CPU per request on this 2-core machine, which the server then has to
share: the figures would measure the client. This client writes a request and reads one
Content-Length framed response, nothing more (no chunking, no redirects, no TLS).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer


class RawHttpPool:
    """Up to `size` keep-alive connections to one host; each request borrows one."""

    def __init__(self, host: str, port: int, size: int, headers: dict[str, str]) -> None:
        self._host, self._port, self._size = host, port, size
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items())
        self._idle: asyncio.Queue[_Connection] = asyncio.Queue()
        self._opened = 0

    async def _borrow(self) -> _Connection:
        if self._idle.empty() and self._opened < self._size:
            self._opened += 1
            return _Connection(*await asyncio.open_connection(self._host, self._port))
        return await self._idle.get()

    async def request(self, method: str, path: str, body: bytes = b"") -> RawResponse:
        connection = await self._borrow()
        message = f"{method} {path} HTTP/1.1\r\n{self._fixed}Content-Length: {len(body)}\r\n\r\n".encode() + body
        connection.writer.write(message)
        status_line = await connection.reader.readline()
        if not status_line:  # the server closed an idle keep-alive connection: reconnect once
            connection.writer.close()
            connection = _Connection(*await asyncio.open_connection(self._host, self._port))
            connection.writer.write(message)
            status_line = await connection.reader.readline()
        headers: dict[str, str] = {}
        while (line := await connection.reader.readline()) not in (b"\r\n", b""):
            name, _sep, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        payload = await connection.reader.readexactly(length) if length else b""
        self._idle.put_nowait(connection)
        return RawResponse(int(status_line.split()[1]), headers, payload)

    async def close(self) -> None:
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            connection.writer.close()
