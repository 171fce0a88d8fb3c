"""The front-desk calendar: a staff page (docs/staff-pages.md) on top of $find, $book and the other operations."""

from __future__ import annotations

from pathlib import Path

from ..i18n import _
from ..staff.declaration import StaffPage

CALENDAR = StaffPage(
    name="calendar",
    title=lambda: _("Calendar"),
    roles=("front-desk", "physician", "nurse", "admin"),
    folder=Path(__file__).parent / "pages",
)
