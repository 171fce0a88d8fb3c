"""`fhir-server mllp`: run the HL7 v2 MLLP receiver on its own (and, with `--send-orders`, the order sender).

`fhir_server/cli.py` calls `add_mllp_command(commands)` and, for the `mllp` command, the
handler stored as the parser default `handler` (`run_mllp(args)`, args as a dict).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Any

from fhir_server.cli_database import connected_store, running_database
from fhir_server.config import Settings
from fhir_server.errors import StorageUnavailable
from fhir_server.i18n import _
from fhir_server.logs import configure_logging

from .listener import DEFAULT_PORT, ListenerSettings, start_listener
from .outbound import sender_settings, start_sending

log = logging.getLogger(__name__)

_OWN = ("mllp_host", "mllp_port", "tls_cert", "tls_key", "idle_timeout", "max_connections", "handler")


def add_mllp_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add `mllp` to the `fhir-server` sub-commands."""
    mllp = subparsers.add_parser("mllp", help=_("Receive HL7 v2 messages over MLLP (TCP, optionally TLS)."))
    mllp.add_argument("--host", dest="mllp_host", default="127.0.0.1", help=_("Address to listen on."))
    mllp.add_argument("--port", dest="mllp_port", type=int, default=DEFAULT_PORT, help=_("Port (default 2575)."))
    mllp.add_argument("--tls-cert", type=Path, help=_("PEM certificate: listen with TLS."))
    mllp.add_argument("--tls-key", type=Path, help=_("PEM private key of the certificate."))
    mllp.add_argument("--idle-timeout", type=float, default=300.0, help=_("Close idle connections after seconds."))
    mllp.add_argument("--max-connections", type=int, default=100, help=_("Most connections open at once."))
    mllp.add_argument("--mongodb-uri", help=_("MongoDB replica set (FHIR_MONGODB_URI); embedded database if absent."))
    mllp.add_argument("--database", help=_("MongoDB database name (FHIR_DATABASE, default fhir)."))
    mllp.add_argument("--data-dir", type=Path, help=_("Where the embedded database keeps its files (FHIR_DATA_DIR)."))
    mllp.add_argument("--log-level", help=_("debug, info, warning or error (FHIR_LOG_LEVEL)."))
    mllp.add_argument(
        "--send-orders", dest="hl7_outbound", action="store_true", default=None,
        help=_("Also send lab orders from the outbox (FHIR_HL7_OUTBOUND)."),
    )  # fmt: skip
    mllp.set_defaults(handler=run_mllp)
    return mllp


def listener_settings(args: dict[str, Any]) -> ListenerSettings:
    """Listener settings from the parsed `mllp` arguments."""
    return ListenerSettings(
        host=args.get("mllp_host") or "127.0.0.1",
        port=args.get("mllp_port") or DEFAULT_PORT,
        certfile=args.get("tls_cert"),
        keyfile=args.get("tls_key"),
        idle_timeout=args.get("idle_timeout") or 300.0,
        max_connections=args.get("max_connections") or 100,
    )


def run_mllp(args: dict[str, Any] | argparse.Namespace) -> int:
    """Run the receiver until SIGTERM/SIGINT; start the embedded database when no URI is configured."""
    values = dict(vars(args)) if isinstance(args, argparse.Namespace) else dict(args)
    values.pop("command", None)
    listener = listener_settings(values)
    settings = Settings.from_env(**{k: v for k, v in values.items() if k not in _OWN})
    configure_logging(settings.log_level)
    try:
        with running_database(settings) as ready:
            asyncio.run(_serve(ready, listener))
    except StorageUnavailable as exc:
        log.error(str(exc))
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(settings: Settings, listener: ListenerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with connected_store(settings) as store:
        sending = await start_sending(store, sender_settings(settings)) if settings.hl7_outbound else None
        server = await start_listener(store, listener)
        try:
            async with server:
                await stop.wait()
        finally:
            if sending is not None:
                sending.cancel()
                await asyncio.gather(sending, return_exceptions=True)
        log.info("mllp stopped")
