"""Rendering the staff pages: one Jinja environment over the shell's templates and every page's folder.

The pages' HTML carries only words and layout; the data arrives through the FHIR API in the
browser, with the user's token. Hence the strict policy: scripts, styles and fetches only from
this origin, no frames, no inline script.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from ..i18n import _, current_language
from .declaration import StaffPage

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def environment(pages: Iterable[StaffPage]) -> Environment:
    """The templates of the shell first, then each page's folder (a page's template is `<name>.html`)."""
    folders = [TEMPLATES, *dict.fromkeys(page.folder for page in pages)]
    templates = Environment(
        loader=ChoiceLoader([FileSystemLoader(folder) for folder in folders]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.globals["_"] = _
    return templates


def render(templates: Environment, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """`template` in the request's language, with the pages' security headers."""
    html = templates.get_template(template).render(lang=current_language(), **context)
    return HTMLResponse(html, status, headers=SECURITY_HEADERS)
