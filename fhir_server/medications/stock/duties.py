"""The dispensary's duties: raising low-stock alerts and the daily report of lots expiring soon (alerts.py).

Both are leased (one process at a time) and safe to repeat: alerts are written under ids made from
the alert, and the expiry report under the day's id, skipped once written.
"""

from __future__ import annotations

from ...duties.duty import Duty, DutyContext
from ...engine.identity import now
from .alerts import raise_low_stock, report_expiring

_HOURLY = 3600.0


async def _low_stock(context: DutyContext) -> None:
    settings = context.settings
    await raise_low_stock(context.database, settings.stock_alert_email, now())


async def _expiring(context: DutyContext) -> None:
    settings, database = context.settings, context.database
    await report_expiring(database, settings.stock_expiry_days, settings.stock_alert_email, now())


STOCK_DUTIES = (
    Duty("stock-alerts", _low_stock, every=5.0, leased=True),
    Duty("stock-expiry", _expiring, every=_HOURLY, leased=True),
)
"""Pending low-stock alerts are looked for every 5 seconds (one indexed query); the expiry report every hour,
written once a day (by the first round of each day)."""
