"""The recovery duty: messages accepted but left `received` by a process that died are processed.

Every process that runs the MLLP listener runs it (`listener.start_recovery`): at start and then every
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
from typing import TYPE_CHECKING

from fhir_server.engine import search_type
from fhir_server.engine.identity import now
from fhir_server.search.registry import default_registry
from fhir_server.search.request import parse_search_request
from fhir_server.storage import ResourceStore

from .access import HL7_POLICY
from .mapping.bundle import escape_token
from .provenance import MESSAGE_SYSTEM

if TYPE_CHECKING:
    from .pipeline import Pipeline

log = logging.getLogger(__name__)

POLL = 5.0
"""Seconds between looks for abandoned messages when there were none."""


async def written_by(store: ResourceStore, message_id: str) -> list[str] | None:
    """What the committed transaction of stored message `message_id` wrote (its Provenance's targets and the
    Provenance), or None when no transaction of it committed."""
    query = [("entity:identifier", f"{MESSAGE_SYSTEM}|{escape_token(message_id)}"), ("_total", "none")]
    request = parse_search_request("Provenance", query, default_registry(), default_count=1, max_count=1, strict=True)
    records = (await search_type(store, HL7_POLICY, request)).page.records
    if not records:
        return None
    provenance = records[0]
    targets = [t["reference"] for t in provenance.resource().get("target", []) if "reference" in t]
    return [*targets, f"{provenance.reference}/_history/{provenance.version_id}"]


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
