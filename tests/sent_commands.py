"""A command listener for tests that count what the driver sends: the commands on some collections, in order."""

from __future__ import annotations

from typing import Any

from pymongo import monitoring


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
