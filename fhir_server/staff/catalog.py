"""Every staff page the server serves; a workflow appends its `StaffPage` declarations here."""

from __future__ import annotations

from pathlib import Path

from ..billing.charges.page import FEE_SHEET
from ..i18n import _
from ..medications.stock.page import STOCK_PAGE
from ..reports.page import REPORTS_PAGE
from ..scheduling.page import CALENDAR
from .declaration import StaffPage

PATIENTS = StaffPage(
    name="patients",
    title=lambda: _("Find a patient"),
    roles=("front-desk", "physician", "nurse", "billing", "admin"),
    folder=Path(__file__).parent / "pages",
)
"""The shell's own page, and the example docs/staff-pages.md walks through."""

STAFF_PAGES: tuple[StaffPage, ...] = (PATIENTS, CALENDAR, REPORTS_PAGE, STOCK_PAGE, FEE_SHEET)
