"""The background task that keeps the audit log sealed into its hash chain."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..storage.audit import MongoAuditLog

log = logging.getLogger(__name__)

SEAL_BATCH = 500
"""Records one round takes at most; a round that takes this many is followed by another at once."""


async def keep_audit_sealed(audit: MongoAuditLog, sealer: str, every: float = 1.0) -> None:
    """Forever: every `every` seconds, seal what was appended since the last round (one sealer holds the
    lease at a time), in full batches for as long as more waits.

    A round costs the database about seven commands and the log at least one pack (a document and its
    index entries), whatever it takes. Sealing as soon as anything waited took a dozen records a round
    under load; a round a second takes the second's records, so the sealer never falls behind and costs
    the writes it seals less.

    Stopped, it gives the lease back, so the next server to start seals at once rather than after the lease ran out."""
    try:
        while True:
            try:
                while await audit.seal(sealer, batch=SEAL_BATCH) >= SEAL_BATCH:
                    pass
            except Exception:  # the database may be away for a moment; the records wait for the next round
                log.exception("audit records could not be sealed")
            await asyncio.sleep(every)
    finally:
        with contextlib.suppress(Exception):  # unreachable now: the lease runs out by itself
            await audit.release(sealer)
