"""`fhir-server mllp`: run the HL7 v2 MLLP receiver on its own (and, with `--send-orders`, the order
sender); `fhir-server mllp reprocess`: rerun failed messages.

`fhir_server/cli.py` calls `add_mllp_command(commands)`; the `mllp` command runs `run_mllp(args)`,
its parser default `handler` (args as a dict). The listener's flags fill the same `Settings` fields (`FHIR_MLLP_*`) that
`fhir-server serve --mllp-port` uses, and both start it with `start_listener`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from fhir_server.cli_database import add_database_options, connected_database, running_database
from fhir_server.config import Settings
from fhir_server.duties import MLLP, DutyContext, applicable, start_duties
from fhir_server.duties.registry import DUTIES
from fhir_server.engine.rules import load_rule_modules
from fhir_server.errors import FhirError, StorageUnavailable
from fhir_server.i18n import _, _n
from fhir_server.logs import configure_logging
from fhir_server.ports import PortUnavailable
from fhir_server.storage import leases
from fhir_server.storage.hl7_messages import PROCESSED
from fhir_server.tasks import stop_tasks

from .listener import ListenerSettings, default_mapper, start_listener
from .outbound import sender_settings, start_sending
from .pipeline import Pipeline
from .senders import Reading, ReadingConfigError

log = logging.getLogger(__name__)

_OWN = ("mllp_action", "message_id", "failed")


def add_mllp_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add `mllp` (and `mllp reprocess`) to the `fhir-server` sub-commands."""
    mllp = subparsers.add_parser("mllp", help=_("Receive HL7 v2 messages over MLLP (TCP, optionally TLS)."))
    mllp.add_argument("--host", dest="mllp_host", help=_("Address to listen on (FHIR_MLLP_HOST, else FHIR_HOST)."))
    mllp.add_argument("--port", dest="mllp_port", type=int, help=_("Port (FHIR_MLLP_PORT, default 2575)."))
    mllp.add_argument("--tls-cert", dest="mllp_tls_cert", type=Path, help=_("PEM certificate: listen with TLS."))
    mllp.add_argument("--tls-key", dest="mllp_tls_key", type=Path, help=_("PEM private key of the certificate."))
    mllp.add_argument(
        "--idle-timeout", dest="mllp_idle_timeout", type=float, help=_("Close idle connections after seconds (300).")
    )
    mllp.add_argument(
        "--max-connections", dest="mllp_max_connections", type=int, help=_("Most connections open at once (100).")
    )
    mllp.add_argument(
        "--send-orders", dest="hl7_outbound", action="store_true", default=None,
        help=_("Also send lab orders from the outbox (FHIR_HL7_OUTBOUND)."),
    )  # fmt: skip
    add_database_options(mllp)
    mllp.set_defaults(handler=run_mllp)
    actions = mllp.add_subparsers(dest="mllp_action")
    rerun = actions.add_parser(
        "reprocess", help=_("Run stored messages that failed through mapping and the engine again.")
    )
    which = rerun.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="message_id", help=_("The stored message's id (from the message log)."))
    which.add_argument("--failed", action="store_true", help=_("Every message whose status is error."))
    add_database_options(rerun, default=argparse.SUPPRESS)  # given after `reprocess`; otherwise the ones before it
    return mllp


def run_mllp(args: dict[str, Any] | argparse.Namespace) -> int:
    """Run the receiver until SIGTERM/SIGINT (or reprocess); start the embedded database when no URI is configured."""
    values = dict(vars(args)) if isinstance(args, argparse.Namespace) else dict(args)
    values.pop("command", None)
    settings = Settings.from_env(**{k: v for k, v in values.items() if k not in _OWN})
    configure_logging(settings.log_level)
    load_rule_modules(settings.rule_modules)
    try:
        with running_database(settings) as ready:
            if values.get("mllp_action") == "reprocess":
                return asyncio.run(_reprocess(ready, values.get("message_id"), bool(values.get("failed"))))
            asyncio.run(_serve(ready, ListenerSettings.from_settings(ready)))
    except (StorageUnavailable, PortUnavailable, ReadingConfigError) as exc:
        log.error(str(exc))
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def _reprocess(settings: Settings, message_id: str | None, failed: bool) -> int:
    """Reprocess one message or every failed one; print each outcome; exit code 1 if any still fails."""
    async with connected_database(settings) as database:
        pipeline = Pipeline(database, default_mapper(), settings.base_url, reading=Reading.from_settings(settings))
        ids = [message_id] if message_id else await pipeline.messages.failed_ids()
        still_failing = 0
        for current in ids:
            try:
                record = await pipeline.reprocess(current)
            except KeyError:
                print(_("{id}: no such message.").format(id=current), file=sys.stderr)
                still_failing += 1
                continue
            except (ValueError, FhirError) as exc:
                print(_("{id}: cannot be processed: {reason}").format(id=current, reason=exc), file=sys.stderr)
                still_failing += 1
                continue
            still_failing += record.status != PROCESSED
            print(
                _("{id} {type} {control}: {status}{error}").format(
                    id=record.id, type=record.message_type, control=record.control_id, status=record.status,
                    error=f" ({record.error})" if record.error else "",
                ),
                flush=True,
            )  # fmt: skip
        print(
            _n(
                "Reprocessed {count} message; {failing} still failing.",
                "Reprocessed {count} messages; {failing} still failing.",
                len(ids),
            ).format(count=len(ids), failing=still_failing)
        )
    return 1 if still_failing else 0


async def _serve(settings: Settings, listener: ListenerSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with connected_database(settings) as database:
        sending = start_sending(database, sender_settings(settings)) if settings.hl7_outbound else None
        server = await start_listener(database, listener)
        duties = DutyContext(database, settings, leases.new_worker())
        background = [*start_duties(applicable(DUTIES, {MLLP}, settings), duties), *([sending] if sending else [])]
        try:
            async with server:
                await stop.wait()
        finally:
            await stop_tasks(background)
        log.info("mllp stopped")
