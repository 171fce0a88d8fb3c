"""Running declared duties: one task per duty, stopped with `fhir_server.tasks.stop_tasks`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from ..config import Settings
from ..engine.identity import now
from ..storage.leases import renewed
from .duty import Duty, DutyContext

log = logging.getLogger(__name__)


def applicable(duties: Iterable[Duty], runs: Iterable[str], settings: Settings) -> list[Duty]:
    """The duties a process that `runs` these things (`SERVER`, `MLLP`) takes on with `settings`."""
    here = frozenset(runs)
    return [duty for duty in duties if duty.needs <= here and duty.enabled(settings)]


def start_duties(duties: Sequence[Duty], context: DutyContext) -> list[asyncio.Task[Any]]:
    """Start every duty of `duties` (already chosen with `applicable`); stop them with `stop_tasks`."""
    return [asyncio.create_task(_keep(duty, context), name=f"duty:{duty.name}") for duty in duties]


async def _keep(duty: Duty, context: DutyContext) -> None:
    every = duty.interval(context.settings)
    if every is None:
        await duty.run(context)
        return
    try:
        while True:
            await _round(duty, context)
            await asyncio.sleep(every)
    finally:
        if duty.leased:
            await asyncio.shield(_release(duty, context))


async def _round(duty: Duty, context: DutyContext) -> None:
    """One round, in this process only if it holds the duty's lease (when leased); errors are logged."""
    leases = context.database.duties
    try:
        if duty.leased and not await leases.claim(duty.name, context.worker, now(), duty.lease):
            return
        if not duty.leased:
            await duty.run(context)
            return
        renew_every = duty.lease.total_seconds() / 3
        async with renewed(lambda: leases.renew(duty.name, context.worker, now(), duty.lease), renew_every):
            await duty.run(context)
    except Exception:  # the database may be away for a moment, or the round failed: the next round tries again
        log.exception("duty round failed", extra={"duty": duty.name})


async def _release(duty: Duty, context: DutyContext) -> None:
    try:
        await context.database.duties.release(duty.name, context.worker)
    except Exception:  # its lease runs out instead
        log.warning("duty lease not released", extra={"duty": duty.name}, exc_info=True)
