"""The scheduling duties: keep every Schedule's Slots generated ahead, and cancel lapsed holds.

Both are leased (one process at a time) and safe to repeat: slot generation writes deterministic Slots
and skips unchanged ones; a hold already cancelled is not pending any more.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..duties.duty import Duty, DutyContext
from .booking import expire_holds
from .slots import generate_all


async def _generate(context: DutyContext) -> None:
    await generate_all(context.database.resources, datetime.now(UTC), context.settings.slot_horizon_days)


async def _expire(context: DutyContext) -> None:
    await expire_holds(context.database.resources, datetime.now(UTC))


SCHEDULING_DUTIES = (
    Duty("generate-slots", _generate, every=3600, leased=True),
    Duty("expire-holds", _expire, every=30, leased=True),
)
