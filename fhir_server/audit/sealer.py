"""The background task that keeps the audit log sealed into its hash chain."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..storage.audit import MongoAuditLog

log = logging.getLogger(__name__)


async def keep_audit_sealed(audit: MongoAuditLog, sealer: str, every: float = 1.0) -> None:
    """Forever: seal what was appended since the last round (one sealer holds the lease at a time).

    Stopped, it gives the lease back, so the next server to start seals at once rather than after the lease ran out."""
    try:
        while True:
            try:
                while await audit.seal(sealer):
                    pass
            except Exception:  # the database may be away for a moment; the records wait for the next round
                log.exception("audit records could not be sealed")
            await asyncio.sleep(every)
    finally:
        with contextlib.suppress(Exception):  # unreachable now: the lease runs out by itself
            await audit.release(sealer)
