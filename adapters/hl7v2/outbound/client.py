"""The sending side of MLLP: TCP (optionally TLS) connections to labs, framed messages, their ACKs.

`Links` keeps one connection per lab (host, port, TLS) open in a process and sends one message at a
time on it (original mode: the next message goes once the last one's ACK came). A connection that
failed, timed out waiting for an ACK or carried something unexpected is closed, never reused (a late
ACK on it could be mistaken for the next message's); one idle longer than `idle_timeout` is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

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
    idle_timeout: float = 60.0
    """Seconds a connection may stay unused before it is closed."""


class Link:
    """An open connection to a lab."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._decoder = FrameDecoder()
        self._frames: list[bytes] = []
        self.messages = 0
        """Messages sent on this connection so far."""
        self.lost = False
        """True once the lab closed the connection or it failed: it must not be used again."""
        self.last_used = asyncio.get_running_loop().time()

    @property
    def usable(self) -> bool:
        """Open, not failed, and nothing unread from the lab (an idle connection the lab closed reads EOF)."""
        return not (self.lost or self._reader.at_eof() or self._frames or self._writer.is_closing())

    async def send(self, payload: bytes) -> None:
        """Write one framed message. Raises LabUnreachable when the connection is gone."""
        self.messages += 1
        self.last_used = asyncio.get_running_loop().time()
        try:
            self._writer.write(frame(payload))
            await self._writer.drain()
        except (ConnectionError, ssl.SSLError, OSError) as exc:
            self.lost = True
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
                self.lost = True
                return None, refused
            if not data:
                self.lost = True
                return None, refused  # closed without (the right) answer: the same as no answer
            self._frames += self._decoder.feed(data)
            self.last_used = loop.time()

    async def close(self) -> None:
        self.lost = True
        self._writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
            await self._writer.wait_closed()


def client_tls(settings: LinkSettings) -> ssl.SSLContext:
    """A client TLS context (TLS 1.2 or later) that verifies the lab's certificate."""
    context = ssl.create_default_context(cafile=settings.cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


async def open_link(lab: Lab, settings: LinkSettings) -> Link:
    """A new connection to `lab`. Raises LabUnreachable (refused, timeout, TLS failure)."""
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
    return Link(reader, writer)


@asynccontextmanager
async def connect(lab: Lab, settings: LinkSettings) -> AsyncIterator[Link]:
    """A new connection to `lab`, closed on exit. Raises LabUnreachable."""
    link = await open_link(lab, settings)
    try:
        yield link
    finally:
        await link.close()


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    link: Link | None = None


class Links:
    """One connection per lab address, shared by a process's workers one message at a time."""

    def __init__(self, settings: LinkSettings) -> None:
        self.settings = settings
        self._slots: dict[tuple[str, int, bool], _Slot] = {}

    @asynccontextmanager
    async def use(self, lab: Lab) -> AsyncIterator[tuple[Link, bool]]:
        """The lab's connection, for this caller alone until exit, and whether it was opened just now.

        Reuses the open connection when it is still usable, else opens one (raises LabUnreachable).
        The caller closes the link (`Link.close`) when the exchange went wrong; it is then replaced
        on the next use.
        """
        slot = self._slots.setdefault((lab.host, lab.port, lab.tls), _Slot())
        async with slot.lock:
            fresh = slot.link is None or not slot.link.usable
            if fresh:
                if slot.link is not None:
                    await slot.link.close()
                slot.link = None
                slot.link = await open_link(lab, self.settings)
            assert slot.link is not None
            yield slot.link, fresh

    async def close_idle(self) -> None:
        """Close the connections unused for `idle_timeout` seconds (or already lost) that nobody holds."""
        moment = asyncio.get_running_loop().time()
        for slot in self._slots.values():
            link = slot.link
            if link is None or slot.lock.locked():
                continue
            if link.lost or moment - link.last_used >= self.settings.idle_timeout:
                slot.link = None
                await link.close()

    async def close(self) -> None:
        """Close every connection."""
        for slot in self._slots.values():
            if slot.link is not None:
                link, slot.link = slot.link, None
                await link.close()
