"""The sign-in page: GET/POST /auth/login?request=<id>, and signing out: GET/POST /auth/logout.

`/auth/login?request=<id>` is where the authorize endpoint sends the browser after parking
a request. Signed in (or with a live signed-in session) it goes on to the consent page,
which sends staff to the patient picker first when a patient is still to be chosen.
Without a request (`/auth/login`), signing in leads to the staff launch page (launch_app.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..audit.context import note_caller
from ..i18n import _
from ..storage.authorizations import AuthorizationRequest
from ..storage.clients import Client
from .browser import Browser, browser_of, check_csrf, end_session, field, set_session_cookie, start_session, stores_of
from .errors import PageRoute
from .flow import current_step, page_path, parked_request
from .responses import image_sources, page, redirect_here
from .signin import MAX_USERNAME, AccountLocked, sign_in

router = APIRouter(route_class=PageRoute)

LAUNCH_PAGE = "/auth/launch-app"


def _login_form(
    request_id: str, csrf: str, app: Client | None, status: int = 200, error: str | None = None, **headers: str
) -> Response:
    """The sign-in form; with a request, it names the app asking (and shows its logo, if registered)."""
    return page(
        "login.html", status, headers=headers, image_sources=image_sources(app), title=_("Sign in"),
        request_id=request_id, csrf=csrf, app=app, error=error,
    )  # fmt: skip


async def _app(request: Request, parked: AuthorizationRequest | None) -> Client | None:
    return await stores_of(request).clients.get(parked.client_id) if parked else None


@router.get("/login")
async def show_login(request: Request) -> Response:
    request_id = request.query_params.get("request")
    if request_id is None:
        return await _show_form(request, await browser_of(request), None, LAUNCH_PAGE)
    step = await current_step(request, request_id)
    return await _show_form(request, step.browser, step.parked, page_path("consent", step.parked))


async def _show_form(request: Request, browser: Browser, parked: AuthorizationRequest | None, then: str) -> Response:
    """The sign-in form, or straight on to `then` when the browser is signed in already."""
    if browser.user is not None:
        return redirect_here(then)
    request_id, app = parked.id if parked else "", await _app(request, parked)
    if browser.session is not None:
        return _login_form(request_id, browser.session.csrf, app)
    started = await start_session(request)
    assert started.session is not None
    return set_session_cookie(request, _login_form(request_id, started.session.csrf, app), started)


@router.post("/login")
async def submit_login(request: Request) -> Response:
    form = await request.form()
    session = check_csrf(await browser_of(request), field(form, "csrf_token"))
    request_id = field(form, "request")
    parked = await parked_request(request, request_id) if request_id else None
    stores = stores_of(request)
    note_caller(username=field(form, "username")[:MAX_USERNAME], client_id=parked.client_id if parked else None)
    try:
        user = await sign_in(stores, field(form, "username"), field(form, "password"))
    except AccountLocked:
        retry = str(int(stores.lockouts.lock.total_seconds()))
        text = _("Too many attempts. Try again later.")
        return _login_form(request_id, session.csrf, await _app(request, parked), 429, text, **{"Retry-After": retry})
    if user is None:
        return _login_form(request_id, session.csrf, await _app(request, parked), 400, _("Wrong username or password."))
    browser = await start_session(request, user.username)
    then = page_path("consent", parked) if parked else LAUNCH_PAGE
    return set_session_cookie(request, redirect_here(then), browser)


@router.get("/logout")
async def show_logout(request: Request) -> Response:
    browser = await browser_of(request)
    if browser.user is None or browser.session is None:
        return page("signed_out.html", title=_("Signed out"))
    return page("logout.html", title=_("Sign out"), csrf=browser.session.csrf, user=browser.user)


@router.post("/logout")
async def submit_logout(request: Request) -> Response:
    form = await request.form()
    check_csrf(await browser_of(request), field(form, "csrf_token"))
    response = page("signed_out.html", title=_("Signed out"))
    await end_session(request, response)
    return response
