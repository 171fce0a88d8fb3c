"""The `fhir-server` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from . import __version__
from .app import create_app
from .config import Settings
from .errors import StorageUnavailable
from .i18n import _
from .loading import load_folder_into
from .logs import configure_logging
from .storage import EmbeddedDatabase

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
    serve.add_argument("--log-level", help=_("debug, info, warning or error (FHIR_LOG_LEVEL)."))
    return parser


class _Stopped(Exception):
    """SIGTERM arrived; uvicorn has shut down gracefully and re-raised it to us."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Stopped


def serve(settings: Settings) -> int:
    """Run the server; start and stop the embedded database around it when no URI is configured."""
    embedded: EmbeddedDatabase | None = None
    if not settings.mongodb_uri:
        embedded = EmbeddedDatabase(settings.data_dir)
        try:
            settings = settings.with_mongodb_uri(embedded.start())
        except StorageUnavailable as exc:
            log.error(str(exc))
            return 1
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    # handler it found: ours turns it into an exception so the database is stopped below.
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if settings.load_dir and settings.mongodb_uri:
            asyncio.run(load_folder_into(settings.mongodb_uri, settings.database, settings.load_dir))
        if settings.workers > 1:
            os.environ.update(settings.to_env())
            uvicorn.run("fhir_server.app:app_from_env", factory=True, workers=settings.workers, **options)
        else:
            uvicorn.run(create_app(settings), **options)
    except (_Stopped, KeyboardInterrupt):
        log.info("server stopped")
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    settings = Settings.from_env(**args)
    configure_logging(settings.log_level)
    if command == "serve":
        return serve(settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
