"""The `fhir-server` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from adapters.hl7v2 import ListenerSettings
from adapters.hl7v2.cli import add_mllp_command

from . import __version__
from .app import create_app
from .audit.cli import add_audit_command
from .audit.key import AuditKeyError, audit_key_path, install_audit_key
from .auth.roles import load_roles
from .cli_database import add_database_options, connected_database, running_database
from .cli_import import run_import
from .cli_users import add_user_command
from .config import Settings
from .engine.backup import BackupError, audit_key_file, backup, restore
from .engine.importing import export_current
from .engine.rules import load_rule_modules
from .errors import FhirError, StorageUnavailable
from .garbage import settle_collector
from .i18n import _
from .i18n import counts as counted
from .loading import load_folder_into
from .logs import configure_logging
from .oauth.commands import add_oauth_commands
from .oauth.token_command import add_token_command
from .ports import PortUnavailable, check_free, reserve
from .progress import Progress
from .rest.http_protocol import FhirHttpProtocol
from .storage.audit_seal import AuditKey

log = logging.getLogger("fhir_server")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fhir-server", description=_("A FHIR R4 server on MongoDB."))
    parser.add_argument("--version", action="version", version=f"fhir-server {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help=_("Run the FHIR server (FHIR base /fhir)."))
    serve.add_argument("--host", help=_("Address to listen on (FHIR_HOST, default 127.0.0.1)."))
    serve.add_argument("--port", type=int, help=_("Port to listen on (FHIR_PORT, default 8080)."))
    serve.add_argument("--data-dir", type=Path, help=_("Where the embedded database keeps its files (FHIR_DATA_DIR)."))
    serve.add_argument(
        "--mongodb-uri", help=_("Use this MongoDB replica set instead of the embedded database (FHIR_MONGODB_URI).")
    )
    serve.add_argument("--database", help=_("MongoDB database name (FHIR_DATABASE, default fhir)."))
    serve.add_argument("--workers", type=int, help=_("Number of worker processes (FHIR_WORKERS, default 1)."))
    serve.add_argument("--base-url", help=_("The FHIR base URL clients use, if not derived from requests."))
    serve.add_argument("--load", type=Path, dest="load_dir", help=_("Load the resources of this folder at startup."))
    serve.add_argument(
        "--demo-app", type=Path, help=_("Serve the demo SMART app of this folder at /apps/demo/ (FHIR_DEMO_APP).")
    )
    serve.add_argument("--log-level", help=_("debug, info, warning or error (FHIR_LOG_LEVEL)."))
    serve.add_argument(
        "--auth",
        choices=("smart", "open"),
        help=_("smart: FHIR requests need a bearer token (default); open: no authorization, development only "
               "(FHIR_AUTH)."),
    )  # fmt: skip
    serve.add_argument(
        "--roles-file", type=Path, help=_("JSON file of roles as scope ceilings, over the defaults (FHIR_ROLES_FILE).")
    )
    serve.add_argument(
        "--mllp-port", type=int, help=_("Also receive HL7 v2 over MLLP on this port (FHIR_MLLP_PORT; off when unset).")
    )
    serve.add_argument("--mllp-host", help=_("Address of the MLLP listener (FHIR_MLLP_HOST, default: --host)."))
    serve.add_argument("--mllp-tls-cert", type=Path, help=_("PEM certificate: MLLP over TLS (FHIR_MLLP_TLS_CERT)."))
    serve.add_argument("--mllp-tls-key", type=Path, help=_("PEM private key of the certificate (FHIR_MLLP_TLS_KEY)."))

    def data_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        add_database_options(command)
        return command

    load = data_command(
        "import", _("Load Bundles (.json, .json.gz) and NDJSON files (.ndjson, .ndjson.gz), or folders of them.")
    )
    load.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help=_("A file or a folder (searched recursively).")
    )
    load.add_argument("--jobs", type=int, default=4, help=_("Bundles or batches written at once (default 4)."))
    dump = data_command("export", _("Write the current resources as one NDJSON file per resource type."))
    dump.add_argument("folder", type=Path, metavar="DIR")
    save = data_command("backup", _("Back up every version of every resource and the server's state."))
    save.add_argument("folder", type=Path, metavar="DIR", help=_("A new or empty folder."))
    save.add_argument(
        "--settle", type=float, default=2.0,
        help=_("Seconds to let writes in flight at the backup instant commit (default 2)."),
    )  # fmt: skip
    back = data_command("restore", _("Restore a backup into an empty database, after verifying it."))
    back.add_argument("folder", type=Path, metavar="DIR")
    add_mllp_command(commands)
    add_audit_command(commands)
    add_oauth_commands(commands)
    add_token_command(commands)
    add_user_command(commands)
    return parser


class _Stopped(Exception):
    """SIGTERM arrived; uvicorn has shut down gracefully and re-raised it to us."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Stopped


def serve(settings: Settings) -> int:
    """Run the server; start and stop the embedded database around it when no URI is configured.

    The ports and the data directory are claimed first, in that order, so that a port in use or a
    data directory in use ends the command at once with one line and nothing started or touched.
    """
    try:
        http = reserve(settings.host, settings.port)
    except PortUnavailable as exc:
        log.error(str(exc))
        return 1
    with http, ExitStack() as database:
        try:
            if settings.mllp_port is not None:
                mllp = ListenerSettings.from_settings(settings)
                check_free(mllp.host, mllp.port)
            settings = database.enter_context(running_database(settings))
        except (PortUnavailable, StorageUnavailable) as exc:
            log.error(str(exc))
            return 1
        return _serve(settings, http)


def _serve(settings: Settings, http: socket.socket) -> int:
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "http": FhirHttpProtocol,  # bad and oversized requests answered with an OperationOutcome
        "timeout_graceful_shutdown": 10,
    }
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    # handler it found: ours turns it into an exception so the database is stopped below.
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        roles = load_roles(settings.roles_file)
        if settings.load_dir and settings.mongodb_uri:
            asyncio.run(load_folder_into(settings, settings.load_dir, roles))
        log.info("serving", extra={"host": settings.host, "port": settings.port, "workers": settings.workers})
        if settings.workers > 1:
            os.environ.update(settings.to_env())
            config = uvicorn.Config("fhir_server.app:app_from_env", factory=True, workers=settings.workers, **options)
            workers = Multiprocess(config, sockets=[http])
            workers.run()
            started = all(worker.process.exitcode != STARTUP_FAILURE for worker in workers.processes)
        else:
            server = uvicorn.Server(uvicorn.Config(create_app(settings, roles), **options))
            server.run(sockets=[http])
            started = server.started
    except (_Stopped, KeyboardInterrupt):
        log.info("server stopped")
        return 0
    except FhirError as exc:  # a resource of --load refused: say which, rather than a traceback
        _complain(_("{command} failed: {reason}").format(command="serve --load", reason=exc))
        return 1
    return 0 if started else 1


def _say(message: str) -> None:
    print(message, flush=True)


def _complain(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _export(settings: Settings, folder: Path) -> int:
    progress = Progress(_("resources"))
    started = time.monotonic()
    async with connected_database(settings) as database:
        types = await database.backup.resource_types()
        counts = await export_current(database.resources, types, folder, progress=progress)
    progress.finish()
    seconds = time.monotonic() - started
    total = sum(counts.values())
    _say(
        _("Exported {resources} of {types} to {folder} in {seconds:.1f} s ({rate:,.0f} resources/s).")
        .format(resources=counted.resources(total), types=counted.resource_types(len(counts)), folder=folder,
                seconds=seconds, rate=total / seconds if seconds else 0)
    )  # fmt: skip
    return 0


async def _backup(settings: Settings, folder: Path, settle: float) -> int:
    progress = Progress(_("versions"))
    started = time.monotonic()
    async with connected_database(settings) as database:
        result = await backup(database.backup, folder, audit_key=database.audit.key, settle=settle, progress=progress)
    progress.finish()
    for name in result.not_kept:
        _complain(_("warning: collection {name} is not in the backup (unknown to this version).").format(name=name))
    counts = result.counts
    _say(
        _("Backed up {versions} of {resources} ({deleted:,} deleted) and {state} as of {instant} to {folder} in "
          "{seconds:.1f} s.").format(
            versions=counted.versions(counts.versions), resources=counted.resources(counts.resources),
            deleted=counts.deleted, state=counted.state_records(counts.state),
            instant=result.instant.isoformat(timespec="milliseconds"), folder=folder,
            seconds=time.monotonic() - started,
        )
    )  # fmt: skip
    return 0


async def _restore(settings: Settings, folder: Path) -> int:
    progress = Progress(_("versions"))
    started = time.monotonic()
    # A restore writes no audit record: a key for this session only, so none is made before the backup's is installed
    async with connected_database(settings, AuditKey(secrets.token_bytes(32))) as database:
        counts = await restore(database.backup, folder, progress=progress)
    progress.finish()
    _say(
        _("Restored {versions} of {resources} ({deleted:,} deleted) and {state} from {folder} in {seconds:.1f} s.")
        .format(
            versions=counted.versions(counts.versions), resources=counted.resources(counts.resources),
            deleted=counts.deleted, state=counted.state_records(counts.state),
            folder=folder, seconds=time.monotonic() - started,
        )
    )  # fmt: skip
    return _restore_audit_key(settings, folder)


def _restore_audit_key(settings: Settings, folder: Path) -> int:
    """Install the backup's audit key, once its data is restored (so the database was empty): the restored
    audit log verifies and the server seals on under the key it was sealed with."""
    path, source = audit_key_path(settings), audit_key_file(folder)
    if source is None:
        _complain(_("warning: this backup holds no audit key (it was made before backups kept it): "
                    "`audit verify` of the restored log needs the original server's audit key file at {path}.")
                  .format(path=path))  # fmt: skip
        return 0
    try:
        replaced = install_audit_key(settings, source)
    except AuditKeyError as exc:
        _complain(_("restore: the data is restored, but the audit key was not installed ({reason}); copy {source} "
                    "to {path}.").format(reason=exc, source=source, path=path))  # fmt: skip
        return 1
    if replaced:
        _say(_("The audit key file {path} held another key; it now holds the backup's (the database was empty).")
             .format(path=path))  # fmt: skip
    return 0


def data_command(command: str, settings: Settings, options: dict[str, Any]) -> int:
    """Run `import`, `export`, `backup` or `restore` on the configured or embedded database.

    SIGTERM ends a command like Ctrl-C: the embedded database is stopped on the way out.
    """
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with running_database(settings) as ready:
            settle_collector()
            if command == "import":
                return asyncio.run(run_import(ready, options["paths"], options["jobs"], options["command_line"]))
            if command == "export":
                return asyncio.run(_export(ready, options["folder"]))
            if command == "backup":
                return asyncio.run(_backup(ready, options["folder"], options["settle"]))
            return asyncio.run(_restore(ready, options["folder"]))
    except BackupError as exc:
        _complain(_("{command} refused: {reason}").format(command=command, reason=exc))
    except FhirError as exc:
        _complain(_("{command} failed: {reason}").format(command=command, reason=exc))
    except (KeyboardInterrupt, _Stopped) as exc:
        _complain(_("{command} interrupted.").format(command=command))
        return 128 + (signal.SIGTERM if isinstance(exc, _Stopped) else signal.SIGINT)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    command_line = list(sys.argv[1:] if argv is None else argv)
    args = vars(_parser().parse_args(command_line))
    handler = args.pop("handler", None)
    if handler is not None:  # commands of their own modules (mllp, audit, ...)
        return int(handler(args))
    command = args.pop("command")
    options: dict[str, Any] = {k: args.pop(k) for k in ("paths", "jobs", "folder", "settle") if k in args}
    options["command_line"] = command_line
    if command != "serve" and args.get("log_level") is None and not os.environ.get("FHIR_LOG_LEVEL"):
        args["log_level"] = "warning"  # the data commands talk through their progress and summary
    settings = Settings.from_env(**args)
    configure_logging(settings.log_level)
    load_rule_modules(settings.rule_modules)
    if command == "serve":
        return serve(settings)
    return data_command(command, settings, options)


if __name__ == "__main__":
    sys.exit(main())
