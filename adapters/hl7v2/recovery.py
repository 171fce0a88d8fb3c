"""The recovery duty: messages accepted but left `received` by a process that died are processed.

Every process that runs the MLLP listener runs it (the `hl7-recovery` duty, `duties.py`): at start and then every
`POLL` seconds it claims the oldest `received` message whose lease is free (`leases.py`; one
findOneAndUpdate, so two processes never take the same message) and processes it as the listener
would have. The sender's connection is gone, so the application ack (enhanced mode) or the ACK
(original mode) is recorded in the message log, as `mllp reprocess` does, and a resend gets it.

Exactly once in effect: a message's FHIR transaction holds its Provenance (`provenance.py`), so a
message whose transaction committed before its processor died is found by that Provenance and
finished with what it wrote, not written again.
"""

from __future__ import annotations

import asyncio
import logging

from fhir_server.engine.identity import now

from .pipeline import Pipeline

log = logging.getLogger(__name__)

POLL = 5.0
"""Seconds between looks for abandoned messages when there were none."""


async def recover_messages(pipeline: Pipeline, poll: float = POLL) -> None:
    """Forever: claim a `received` message whose processor died and process it with `pipeline`."""
    while True:
        try:
            record = await pipeline.messages.claim_next(pipeline.worker, now())
        except Exception:  # the database may be away for a moment; try again later
            log.exception("hl7 recovery could not reach the message log")
            await asyncio.sleep(poll)
            continue
        if record is None:
            await asyncio.sleep(poll)
            continue
        try:
            await pipeline.recover(record)
        except Exception:  # its lease runs out and it is claimed again
            log.exception("hl7 message recovery failed", extra={"message_id": record.id})
            await asyncio.sleep(poll)
