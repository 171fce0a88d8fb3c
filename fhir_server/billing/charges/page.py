"""The fee sheet staff page: a visit's charges reviewed before the claim (pages/fee-sheet.*)."""

from __future__ import annotations

from pathlib import Path

from ...i18n import _
from ...staff.declaration import StaffPage

FEE_SHEET = StaffPage(
    name="fee-sheet",
    title=lambda: _("Fee sheet"),
    roles=("physician", "billing", "admin"),
    folder=Path(__file__).parent / "pages",
)
