"""The prescribing workflow's duty: transmitting signed prescriptions to pharmacies (sender.py)."""

from __future__ import annotations

from ...config import Settings
from ...duties.duty import Duty, DutyContext
from .sender import Pace, transmit_round


async def _transmit(context: DutyContext) -> None:
    settings = context.settings
    base = settings.base_url or await context.database.server_address.fhir_base()
    if base is None:
        return  # the server has not recorded its address yet: the next round sends
    pace = Pace(settings.prescribing_poll_seconds, settings.prescribing_retry_seconds,
                settings.prescribing_retry_max_seconds)  # fmt: skip
    await transmit_round(context.database, base.rstrip("/"), pace)


def _every(settings: Settings) -> float:
    return settings.prescribing_poll_seconds


PRESCRIBING_DUTIES = (Duty("pharmacy-transmission", _transmit, every=_every, leased=True),)
"""Signed prescriptions go out, and pharmacies' answers come in, every `prescribing_poll_seconds`."""
