"""The sending side of MLLP: one TCP (optionally TLS) connection to a lab, a framed message, its ACK.

A connection per message keeps failure handling simple (nothing half-read is left on a socket
that is reused); labs take a few orders a minute, not hundreds a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fhir_server.i18n import _

from ..framing import FrameDecoder, frame
from .lab import Lab


class LabUnreachable(ConnectionError):
    """The lab could not be reached or dropped the connection; the text says how."""


@dataclass(frozen=True)
class LinkSettings:
    """Timeouts and TLS trust for connections to labs."""

    connect_timeout: float = 10.0
    ack_timeout: float = 30.0
    cafile: str | None = None
    """PEM bundle of CAs trusted for `mllps://` labs; the system's when None."""


class Link:
    """An open connection to a lab."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._decoder = FrameDecoder()
        self._frames: list[bytes] = []

    async def send(self, payload: bytes) -> None:
        """Write one framed message. Raises LabUnreachable when the connection is gone."""
        try:
            self._writer.write(frame(payload))
            await self._writer.drain()
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            raise LabUnreachable(_("The lab closed the connection while the order was sent: {problem}").format(
                problem=exc)) from exc  # fmt: skip

    async def reply(self, wanted: Callable[[bytes], bool], timeout: float) -> tuple[bytes | None, list[bytes]]:
        """The first frame `wanted` accepts within `timeout` seconds (None if none came), and the frames it refused."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        refused: list[bytes] = []
        while True:
            while self._frames:
                payload = self._frames.pop(0)
                if wanted(payload):
                    return payload, refused
                refused.append(payload)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None, refused
            try:
                data = await asyncio.wait_for(self._reader.read(65536), remaining)
            except TimeoutError:
                return None, refused
            except (ConnectionError, ssl.SSLError, OSError):
                return None, refused
            if not data:
                return None, refused  # closed without (the right) answer: the same as no answer
            self._frames += self._decoder.feed(data)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
            await self._writer.wait_closed()


def client_tls(settings: LinkSettings) -> ssl.SSLContext:
    """A client TLS context (TLS 1.2 or later) that verifies the lab's certificate."""
    context = ssl.create_default_context(cafile=settings.cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@asynccontextmanager
async def connect(lab: Lab, settings: LinkSettings) -> AsyncIterator[Link]:
    """An open connection to `lab`, closed on exit. Raises LabUnreachable (refused, timeout, TLS failure)."""
    context = client_tls(settings) if lab.tls else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(lab.host, lab.port, ssl=context), settings.connect_timeout
        )
    except TimeoutError as exc:
        raise LabUnreachable(
            _("No connection to {host}:{port} within {seconds} s.").format(
                host=lab.host, port=lab.port, seconds=settings.connect_timeout
            )
        ) from exc
    except (OSError, ssl.SSLError) as exc:
        raise LabUnreachable(
            _("No connection to {host}:{port}: {problem}").format(host=lab.host, port=lab.port, problem=exc)
        ) from exc
    link = Link(reader, writer)
    try:
        yield link
    finally:
        await link.close()
