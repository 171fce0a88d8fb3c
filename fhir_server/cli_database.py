"""The database the CLI commands work on: the configured MongoDB, or the embedded one started for them."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator, Callable, Collection, Coroutine, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from .audit.key import load_audit_key
from .audit.writes import audit_writes
from .config import Settings
from .engine.observers import add_write_observer, remove_write_observer
from .engine.search_parameters import load_search_parameters
from .i18n import _
from .logs import configure_logging
from .search.registry import default_registry
from .storage import EmbeddedDatabase
from .storage.audit_seal import AuditKey
from .storage.database import Database


def add_database_options(command: argparse.ArgumentParser, default: Any = None) -> None:
    """The flags every command that works on the database shares: which database, where, how chatty.

    `default=argparse.SUPPRESS` lets a sub-command take them again without hiding the parent's."""
    command.add_argument(
        "--data-dir", type=Path, default=default, help=_("Where the embedded database keeps its files (FHIR_DATA_DIR).")
    )
    command.add_argument(
        "--mongodb-uri",
        default=default,
        help=_("Use this MongoDB instead of the embedded database (FHIR_MONGODB_URI)."),
    )
    command.add_argument("--database", default=default, help=_("MongoDB database name (FHIR_DATABASE, default fhir)."))
    command.add_argument(
        "--log-level", default=default, help=_("debug, info, warning or error (FHIR_LOG_LEVEL, default warning).")
    )


_T = TypeVar("_T")


def command_settings(args: Mapping[str, Any], own: Collection[str]) -> Settings:
    """The settings of a sub-command: its parsed `args` but its `own` options (the database and logging
    flags) over the environment, with logging configured: quiet (warning) unless `--log-level` or
    FHIR_LOG_LEVEL asks otherwise, since these commands talk through what they print."""
    flags = {name: value for name, value in args.items() if name not in own}
    if flags.get("log_level") is None and not os.environ.get("FHIR_LOG_LEVEL"):
        flags["log_level"] = "warning"
    settings = Settings.from_env(**flags)
    configure_logging(settings.log_level)
    return settings


def run_on_database(
    args: Mapping[str, Any], own: Collection[str], work: Callable[[Settings], Coroutine[Any, Any, _T]]
) -> _T:
    """`work(settings)` on the database of `command_settings(args, own)`, the embedded one started for it if
    need be. Raises what `work` raises, and StorageUnavailable when the database cannot be started."""
    with running_database(command_settings(args, own)) as ready:
        return asyncio.run(work(ready))


@contextmanager
def running_database(settings: Settings) -> Iterator[Settings]:
    """`settings` with a MongoDB URI: the configured one, or an embedded database started for the block.

    The embedded database is stopped when the block ends, however it ends. Raises StorageUnavailable
    when the embedded database cannot be started.
    """
    if settings.mongodb_uri:
        yield settings
        return
    embedded = EmbeddedDatabase(settings.data_dir, lock_grace=settings.data_lock_grace_seconds)
    try:
        yield settings.with_mongodb_uri(embedded.start())
    finally:
        embedded.stop()


@asynccontextmanager
async def connected_database(settings: Settings, audit_key: AuditKey | None = None) -> AsyncIterator[Database]:
    """The database on `settings.mongodb_uri` with its indexes ensured and the stored SearchParameters registered.

    Its writes are audited like the server's (one AuditEvent per resource, actor from the
    policy, e.g. cli, with its MAC under the server's audit key, made if missing, or `audit_key`);
    the next running server seals them into the chain.
    """
    assert settings.mongodb_uri, "call inside running_database()"
    key = audit_key or load_audit_key(settings, create=True)
    async with Database.open(settings, key) as database:
        observe_writes = audit_writes(database.audit)
        add_write_observer(observe_writes)
        try:
            await load_search_parameters(database.resources, default_registry())
            yield database
        finally:
            remove_write_observer(observe_writes)
