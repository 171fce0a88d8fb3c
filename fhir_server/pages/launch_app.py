"""The staff launch page: GET/POST /auth/launch-app, an EHR launch from the browser.

Signed-in staff (whose role reads any patient; the sign-in page without a request leads
here) find a patient by name, choose one, optionally one of their encounters, and an app
registered with a launch URL; Launch makes a launch handle (oauth/launch.py, the same checks
as `POST /auth/launch`, with the user's own policy) and sends the browser to
`<launch_url>?iss=<FHIR base>&launch=<handle>`. Plain forms: the search and the patient
choice are GETs, the launch a POST with the session's CSRF token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import FhirError
from ..i18n import _
from ..oauth.launch import create_launch
from ..oauth.state import oauth_of, urls_of
from ..storage.clients import Client
from ..storage.users import User
from .browser import Browser, browser_of, check_csrf, field, stores_of
from .encounters import find_encounters, user_policy
from .errors import GoTo, PageError, PageRoute
from .flow import picks_patient, store_of
from .patients import describe_patient, find_patients
from .picker import MAX_NAME
from .responses import form_target, page, redirect_to_launch

router = APIRouter(route_class=PageRoute)


async def _staff(request: Request) -> tuple[Browser, User]:
    """The signed-in staff user; GoTo the sign-in page when signed out, PageError 403 for other accounts."""
    browser = await browser_of(request)
    if browser.user is None or browser.session is None:
        raise GoTo("/auth/login")
    if not picks_patient(request, browser.user):
        raise PageError(403, _("Staff only"), _("Only staff who may see every patient can launch apps here."))
    return browser, browser.user


async def _apps(request: Request) -> list[Client]:
    return [client for client in await stores_of(request).clients.all() if client.launch_url]


async def _launch_page(
    request: Request, browser: Browser, name: str, patient: str, status: int = 200, error: str | None = None
) -> Response:
    assert browser.session is not None and browser.user is not None
    store, apps = store_of(request), await _apps(request)
    policy = user_policy(browser.user, stores_of(request).roles, None)
    chosen = await describe_patient(store, patient) if patient else None
    if patient and chosen is None and error is None:
        status, error = 400, _("Choose a patient from the list.")
    return page(
        "launch_app.html",
        status,
        form_targets=tuple(sorted({form_target(str(app.launch_url)) for app in apps})),
        title=_("Launch an app"),
        csrf=browser.session.csrf,
        user=browser.user,
        name=name,
        searched=bool(name),
        matches=await find_patients(store, name) if name else [],
        patient=chosen,
        encounters=await find_encounters(store, policy, patient) if chosen else [],
        apps=apps,
        error=error,
    )


@router.get("/launch-app")
async def show_launch_page(request: Request) -> Response:
    browser, _user = await _staff(request)
    name = request.query_params.get("name", "").strip()[:MAX_NAME]
    return await _launch_page(request, browser, name, request.query_params.get("patient", ""))


@router.post("/launch-app")
async def launch_app(request: Request) -> Response:
    form = await request.form()
    browser, user = await _staff(request)
    check_csrf(browser, field(form, "csrf_token"))
    patient, encounter = field(form, "patient"), field(form, "encounter") or None
    oauth = oauth_of(request)
    try:
        url = await create_launch(
            oauth.clients, oauth.launches, urls_of(request).fhir_base, field(form, "client"), patient, encounter,
            user.username, store=store_of(request), policy=user_policy(user, stores_of(request).roles, None),
        )  # fmt: skip
    except FhirError as exc:
        return await _launch_page(request, browser, "", patient, 400, str(exc))
    return redirect_to_launch(url)
