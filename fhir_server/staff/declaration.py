"""What a staff page is: a name, a title, the roles that may open it, and its template and script.

A workflow declares its pages next to its code and lists them in `catalog.STAFF_PAGES`:

    CALENDAR = StaffPage(
        name="calendar",                                # served at /staff/calendar
        title=lambda: _("Calendar"),                    # translated each time the page is shown
        roles=("front-desk", "physician", "nurse", "admin"),
        folder=Path(__file__).parent / "pages",         # holds calendar.html and calendar.js
    )

`calendar.html` extends "staff_base.html" and fills its `main` block (and `words`, the phrases
the script shows); `calendar.js` is the page's script, run once the user is signed in and
allowed. docs/staff-pages.md walks through one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class StaffPage:
    """One page under /staff/: `roles` gate it in the browser; the FHIR API enforces the token's scopes."""

    name: str
    title: Callable[[], str]
    roles: tuple[str, ...]
    folder: Path

    def __post_init__(self) -> None:
        if not self.name or not set(self.name) <= NAME_CHARACTERS:
            raise ValueError(f"A staff page name is lower-case letters, digits and '-': {self.name!r}")
        if not self.roles:
            raise ValueError(f"Staff page {self.name!r} names no role that may open it.")

    @property
    def template(self) -> Path:
        return self.folder / f"{self.name}.html"

    @property
    def script(self) -> Path:
        return self.folder / f"{self.name}.js"
