"""What a channel is: something that hands one message to the outside world, or says why not."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from ..storage.message_outbox import Message


class TemporaryFailure(Exception):
    """The channel is down or refused for now: try again later."""


class PermanentFailure(Exception):
    """The channel refused this message for good (an unknown mailbox, a malformed number)."""


class Connection(Protocol):
    """An open channel, sending messages one after the other."""

    async def send(self, message: Message) -> None:
        """Hand `message` over; raises TemporaryFailure or PermanentFailure."""
        ...


class Channel(Protocol):
    """A configured channel: `connect()` opens it for a round of messages (raises TemporaryFailure)."""

    name: str

    def connect(self) -> AbstractAsyncContextManager[Connection]: ...
