"""The reports staff page (/staff/reports): pick a report and a period, see a table and a chart, download CSV.

The page works through `$reports` and `$report` with the user's token, so it shows only the reports
the user's role may run; the chart is drawn as SVG in the page (pages/reports.js), no chart library.
"""

from __future__ import annotations

from pathlib import Path

from ..i18n import _
from ..staff.declaration import StaffPage

REPORTS_PAGE = StaffPage(
    name="reports",
    title=lambda: _("Reports"),
    roles=("admin", "physician", "nurse", "front-desk", "billing"),
    folder=Path(__file__).parent / "pages",
)
