"""A command listener for tests that count what the driver sends: the commands on some collections, in order."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient, monitoring

from fhir_server.storage import MongoResourceStore


class SentCommands(monitoring.CommandListener):
    """(command name, command) of every command sent on one of `collections`."""

    def __init__(self, *collections: str) -> None:
        self.collections = collections
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command.get(event.command_name) in self.collections:
            self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Only what was sent is recorded."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Only what was sent is recorded."""


@asynccontextmanager
async def listened_store(uri: str, prefix: str, listener: SentCommands) -> AsyncIterator[MongoResourceStore]:
    """A resource store, its indexes made, on a fresh database `<prefix>_<random>` of a client that `listener`
    hears; closed on the way out."""
    client = AsyncMongoClient[dict[str, Any]](uri, tz_aware=True, event_listeners=[listener])
    store = MongoResourceStore(client, f"{prefix}_{uuid.uuid4().hex[:8]}")
    try:
        await store.ensure_indexes()
        yield store
    finally:
        await store.close()
