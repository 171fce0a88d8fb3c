"""The browser side of a page request: its session cookie, its signed-in user, and the CSRF check.

CSRF tokens are bound to the server-side session: the sign-in form's token belongs to the
anonymous session started when the form was shown, later forms' to the signed-in session.
A post whose `csrf_token` does not match its session's secret is refused with 403; the
cookie is SameSite=Lax on top of that.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

from ..config import Settings
from ..i18n import _
from ..storage.sessions import Session
from ..storage.users import User
from .errors import PageError
from .stores import PageStores

COOKIE = "fhir_session"
COOKIE_PATH = "/auth"


@dataclass(frozen=True)
class Browser:
    """The session behind the request's cookie (None when absent or expired) and its active user."""

    cookie: str | None
    session: Session | None
    user: User | None


def stores_of(request: Request) -> PageStores:
    stores: PageStores = request.app.state.pages
    return stores


async def browser_of(request: Request) -> Browser:
    """Look up the request's session and, when signed in, its user (inactive or removed users are signed out)."""
    stores = stores_of(request)
    cookie = request.cookies.get(COOKIE)
    session = await stores.sessions.get(cookie) if cookie else None
    user = await stores.users.get(session.username) if session and session.username else None
    return Browser(cookie, session, user if user and user.active else None)


async def start_session(request: Request, username: str | None = None) -> Browser:
    """A new session for the browser, ending the one it had; `set_session_cookie` hands it over."""
    stores = stores_of(request)
    previous = request.cookies.get(COOKIE)
    if previous:
        await stores.sessions.end(previous)
    value, session = await stores.sessions.start(datetime.now(UTC) + stores.session_time, username)
    user = await stores.users.get(username) if username else None
    return Browser(value, session, user)


def set_session_cookie(request: Request, response: Response, browser: Browser) -> Response:
    """`response` with the cookie of the browser's (new) session: HttpOnly, SameSite=Lax, Secure on https."""
    assert browser.cookie is not None, "a started session"
    response.set_cookie(
        COOKIE,
        browser.cookie,
        max_age=int(stores_of(request).session_time.total_seconds()),
        path=COOKIE_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )
    return response


async def end_session(request: Request, response: Response) -> None:
    cookie = request.cookies.get(COOKIE)
    if cookie:
        await stores_of(request).sessions.end(cookie)
    response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=_secure(request), httponly=True, samesite="lax")


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    base = settings.base_url or str(request.base_url)
    return base.startswith("https:")


def check_csrf(browser: Browser, submitted: str | None) -> Session:
    """The browser's session when `submitted` is its CSRF secret; raise PageError 403 otherwise."""
    if browser.session is None or not submitted or not hmac.compare_digest(browser.session.csrf, submitted):
        raise PageError(
            403,
            _("This form has expired"),
            _("The form was not sent from this page or has expired. Go back to the app and start again."),
        )
    return browser.session


def field(form: FormData, name: str) -> str:
    """A text field of a posted form; '' when absent (or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
