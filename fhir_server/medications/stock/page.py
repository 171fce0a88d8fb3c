"""The stock page (`/staff/stock`): on-hand, alerts and movements, for the pharmacy, nurses and admins."""

from __future__ import annotations

from pathlib import Path

from ...i18n import _
from ...staff.declaration import StaffPage

STOCK_PAGE = StaffPage(
    name="stock",
    title=lambda: _("Stock"),
    roles=("pharmacy", "nurse", "admin"),
    folder=Path(__file__).parent / "pages",
)
