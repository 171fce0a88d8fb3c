"""Every answer of the sign-in pages: rendered templates, redirects and error pages, with security headers.

Pages are plain HTML forms without scripts; the headers keep them out of frames, caches
and Referer headers. Redirects go to this server's own pages (relative paths, checked) or,
at the very end, to the redirect_uri the authorize endpoint validated: nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..i18n import _, current_language
from ..storage.authorizations import AuthorizationRequest

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals["_"] = _


def _security_headers(form_targets: tuple[str, ...] = ()) -> dict[str, str]:
    # form-action also governs the redirect that follows a form post (Chromium enforces it),
    # so the consent page names the app's redirect target as well as 'self'.
    form_action = " ".join(("'self'", *form_targets))
    return {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
            f"frame-ancestors 'none'; form-action {form_action}"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
    }


def page(
    template: str, status: int = 200, *, form_targets: tuple[str, ...] = (), headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:  # fmt: skip
    """The template rendered in the caller's language, with the security headers."""
    html = _templates.get_template(template).render(lang=current_language(), **context)
    return HTMLResponse(html, status, headers={**_security_headers(form_targets), **(headers or {})})


def error_page(status: int, title: str, message: str) -> HTMLResponse:
    return page("error.html", status, title=title, message=message)


def redirect_here(path: str) -> RedirectResponse:
    """A 303 to one of this server's pages; refuses anything but an absolute path under /auth/."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not path.startswith("/auth/") or "\\" in path:
        raise ValueError(f"not a local page: {path!r}")
    return RedirectResponse(path, 303, headers=_security_headers())


def redirect_to_app(parked: AuthorizationRequest, **params: str) -> RedirectResponse:
    """A 303 to the parked request's redirect_uri with `params` (and `state`) added to its query."""
    answer = {**params, **({"state": parked.state} if parked.state else {})}
    separator = "&" if urlsplit(parked.redirect_uri).query else "?"
    return RedirectResponse(f"{parked.redirect_uri}{separator}{urlencode(answer)}", 303, headers=_security_headers())


def redirect_to_launch(launch_url: str) -> RedirectResponse:
    """A 303 to a registered app's launch URL (with `iss` and `launch`), made by the staff launch page."""
    return RedirectResponse(launch_url, 303, headers=_security_headers())


def form_target(redirect_uri: str) -> str:
    """The CSP source that lets a form post end in a redirect to `redirect_uri`: its origin, or its scheme."""
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"


def stylesheet() -> Response:
    css = (Path(__file__).parent / "static" / "pages.css").read_bytes()
    return Response(css, media_type="text/css", headers={**_security_headers(), "Cache-Control": "max-age=3600"})
