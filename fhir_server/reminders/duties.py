"""The `send-reminders` duty: every second, in one process at a time, once a message channel is configured."""

from __future__ import annotations

from ..duties.duty import Duty, DutyContext
from ..messaging.duties import any_channel
from .dispatch import remind


async def _send_reminders(context: DutyContext) -> None:
    await remind(context.database, context.settings)


REMINDER_DUTIES = (Duty("send-reminders", _send_reminders, every=1, leased=True, enabled=any_channel),)
