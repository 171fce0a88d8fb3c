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
from ..storage.clients import Client

_STATIC = Path(__file__).parent / "static"
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals["_"] = _


def _security_headers(form_targets: tuple[str, ...] = (), image_sources: tuple[str, ...] = ()) -> dict[str, str]:
    # form-action also governs the redirect that follows a form post (Chromium enforces it),
    # so the consent page names the app's redirect target as well as 'self'.
    form_action = " ".join(("'self'", *form_targets))
    img_src = " ".join(("'self'", *image_sources))
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'self'; img-src {img_src}; base-uri 'none'; "
            f"frame-ancestors 'none'; form-action {form_action}"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
    }


def page(
    template: str, status: int = 200, *, form_targets: tuple[str, ...] = (), image_sources: tuple[str, ...] = (),
    headers: dict[str, str] | None = None, **context: Any,
) -> HTMLResponse:  # fmt: skip
    """The template rendered in the caller's language, with the security headers."""
    html = _templates.get_template(template).render(lang=current_language(), **context)
    security = _security_headers(form_targets, image_sources)
    return HTMLResponse(html, status, headers={**security, **(headers or {})})


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


def image_sources(app: Client | None) -> tuple[str, ...]:
    """The CSP source that lets a page show the app's registered logo: the logo's origin (none without a logo)."""
    if app is None or not app.logo_uri:
        return ()
    parts = urlsplit(app.logo_uri)
    return (f"{parts.scheme}://{parts.netloc}",)


def form_target(redirect_uri: str) -> str:
    """The CSP source that lets a form post end in a redirect to `redirect_uri`: its origin, or its scheme."""
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"


def stylesheet() -> Response:
    return _static("pages.css", "text/css")


def favicon() -> Response:
    """The icon browsers ask every site for (a blue cross; favicon.svg is its source, drawn at 16, 32, 48 px)."""
    return _static("favicon.ico", "image/x-icon")


def favicon_svg() -> Response:
    return _static("favicon.svg", "image/svg+xml")


def _static(name: str, media_type: str) -> Response:
    body = (_STATIC / name).read_bytes()
    return Response(body, media_type=media_type, headers={**_security_headers(), "Cache-Control": "max-age=3600"})
