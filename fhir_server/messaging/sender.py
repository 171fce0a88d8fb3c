"""Sending due messages: one round of the `send-messages` duty."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta

from ..engine.identity import now
from ..storage.message_outbox import FAILED, RETRYING, SENT, Message, MessageOutbox
from .channels import Channel, Connection, PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)

BATCH = 50
LEASE = timedelta(seconds=300)
"""How long a claimed batch may take before another sender may take its messages (longer than a batch's
sends at a channel's timeout each, for a relay that answers slowly but answers)."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff between attempts: `first`, doubled each time, at most `longest`; `attempts` in all."""

    first: float
    longest: float
    attempts: int

    def delay(self, attempt: int) -> timedelta:
        return timedelta(seconds=min(self.longest, self.first * 2 ** max(0, attempt - 1)))


@dataclass
class RoundReport:
    """What a round did, per outcome."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    down: list[str] = field(default_factory=list)


async def send_due(
    outbox: MessageOutbox, channels: Sequence[Channel], worker: str, backoff: Backoff, limit: int = 10_000
) -> RoundReport:
    """Send the due messages of each channel, one connection per channel, claimed `BATCH` at a time; a channel
    that fails for now stops for this round (the message tried waits out its backoff, the rest of its batch
    is given back untried)."""
    report = RoundReport()
    for channel in channels:
        async with AsyncExitStack() as stack:
            connection: Connection | None = None
            taken = 0
            while taken < limit and (batch := await outbox.claim(channel.name, worker, now(), LEASE, BATCH)):
                taken += len(batch)
                for position, message in enumerate(batch):
                    try:
                        if connection is None:
                            connection = await stack.enter_async_context(channel.connect())
                        await connection.send(message)
                    except TemporaryFailure as exc:
                        await _retry(outbox, message, worker, backoff, str(exc), report)
                        await outbox.give_back(batch[position + 1 :], worker)
                        report.down.append(channel.name)
                        break
                    except PermanentFailure as exc:
                        await outbox.settle(message, worker, FAILED, now(), error=str(exc))
                        report.failed += 1
                        continue
                    await outbox.settle(message, worker, SENT, now())
                    report.sent += 1
                if channel.name in report.down:
                    break
    return report


async def _retry(
    outbox: MessageOutbox, message: Message, worker: str, backoff: Backoff, error: str, report: RoundReport
) -> None:
    at = now()
    if message.attempts >= backoff.attempts:
        await outbox.settle(message, worker, FAILED, at, error=error)
        report.failed += 1
        return
    await outbox.settle(message, worker, RETRYING, at, due=at + backoff.delay(message.attempts), error=error)
    report.retrying += 1
    log.warning("message channel failed for now", extra={"channel": message.channel, "attempt": message.attempts})
