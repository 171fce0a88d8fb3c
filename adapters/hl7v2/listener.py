"""The MLLP server: asyncio, optional TLS, persistent connections.

Each connection is read frame by frame and its messages are handled in arrival order (the
ACK of one is sent before the next is handled). Beside it runs the recovery duty (`duties.py`),
which finishes messages a process that died had accepted. A connection is closed when it stays idle
too long, when a frame takes too long to complete, or when too many are open already;
none of this touches the other connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

from fhir_server.config import Settings
from fhir_server.ports import unavailable
from fhir_server.storage.database import Database

from .code_maps import DEFAULT_TTL, ConceptMapCache
from .framing import FrameDecoder, frame
from .mapping import map_message
from .pipeline import Mapper, Pipeline
from .senders import Reading

log = logging.getLogger(__name__)

DEFAULT_PORT = 2575


@dataclass(frozen=True)
class ListenerSettings:
    """Where and how the MLLP server listens."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    certfile: Path | None = None
    keyfile: Path | None = None
    idle_timeout: float = 300.0
    frame_timeout: float = 60.0
    max_connections: int = 100
    max_frame_bytes: int = 16 * 1024 * 1024
    base_url: str | None = None
    concept_map_ttl: float = DEFAULT_TTL
    reuse_port: bool = False
    """Several processes listen on one port and the kernel spreads connections (`serve --workers N`)."""
    reading: Reading = Reading()
    """Accepted processing ids, per-sender rules, the assigning-authority table."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ListenerSettings:
        """The listener of `fhir-server mllp` and of `fhir-server serve --mllp-port` (`FHIR_MLLP_*`)."""
        return cls(
            host=settings.mllp_host or settings.host,
            port=DEFAULT_PORT if settings.mllp_port is None else settings.mllp_port,
            certfile=settings.mllp_tls_cert,
            keyfile=settings.mllp_tls_key,
            idle_timeout=settings.mllp_idle_timeout,
            max_connections=settings.mllp_max_connections,
            base_url=settings.base_url,
            reuse_port=settings.workers > 1,
            reading=Reading.from_settings(settings),
        )


def tls_context(certfile: Path, keyfile: Path | None) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or later) from PEM certificate and key paths."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
    return context


class MLLPServer:
    """Accepts connections and feeds their frames to a `Pipeline`."""

    def __init__(self, pipeline: Pipeline, settings: ListenerSettings) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.connections = 0
        self.refused = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self.connections >= self.settings.max_connections:
            self.refused += 1
            log.warning("mllp connection refused: limit reached", extra={"peer": str(peer)})
            await _close(writer)
            return
        self.connections += 1
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            log.info("mllp connection lost", extra={"peer": str(peer), "problem": str(exc)})
        except Exception:
            log.exception("mllp connection failed", extra={"peer": str(peer)})
        finally:
            self.connections -= 1
            await _close(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder(self.settings.max_frame_bytes)
        loop = asyncio.get_running_loop()
        frame_started: float | None = None

        async def send(payload: bytes) -> None:
            writer.write(frame(payload))
            await writer.drain()

        while True:
            timeout = self.settings.idle_timeout
            if frame_started is not None:
                timeout = min(timeout, frame_started + self.settings.frame_timeout - loop.time())
            try:
                data = await asyncio.wait_for(reader.read(65536), max(timeout, 0.0))
            except TimeoutError:
                reason = "frame incomplete" if decoder.in_frame else "idle"
                log.info("mllp connection timed out", extra={"reason": reason})
                return
            if not data:
                return
            oversized, garbage = decoder.oversized_frames, decoder.garbage_bytes
            frames = decoder.feed(data)
            if decoder.oversized_frames > oversized:
                log.warning("mllp frame over the size limit dropped", extra={"limit": self.settings.max_frame_bytes})
            if decoder.garbage_bytes > garbage + 1:  # a lone CR after a frame end is not worth a line
                log.info("mllp bytes outside frames dropped", extra={"bytes": decoder.garbage_bytes - garbage})
            for payload in frames:
                await self.pipeline.handle_frame(payload, send)
            if not decoder.in_frame:
                frame_started = None
            elif frame_started is None or frames:
                frame_started = loop.time()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
        await writer.wait_closed()


def default_mapper() -> Mapper:
    """The project's HL7 v2 to FHIR mapper (`adapters.hl7v2.mapping.map_message`)."""
    return map_message


def new_pipeline(database: Database, settings: ListenerSettings, mapper: Mapper | None = None) -> Pipeline:
    """The pipeline of a listener (or of its recovery duty) with these settings."""
    code_maps = ConceptMapCache(database.resources, settings.concept_map_ttl)
    return Pipeline(database, mapper or default_mapper(), settings.base_url, code_maps, settings.reading)


async def start_listener(
    database: Database, settings: ListenerSettings | None = None, mapper: Mapper | None = None
) -> asyncio.Server:
    """Start listening (the message log's indexes are the Database's); the caller closes the returned server."""
    settings = settings or ListenerSettings()
    pipeline = new_pipeline(database, settings, mapper)
    context = tls_context(settings.certfile, settings.keyfile) if settings.certfile else None
    server = MLLPServer(pipeline, settings)
    try:
        listening = await asyncio.start_server(
            server.handle,
            settings.host,
            settings.port,
            ssl=context,
            limit=settings.max_frame_bytes,
            reuse_port=settings.reuse_port or None,
        )
    except OSError as exc:
        raise unavailable(settings.host, settings.port, exc) from exc
    log.info("mllp listening", extra={"host": settings.host, "port": settings.port, "tls": context is not None})
    return listening
