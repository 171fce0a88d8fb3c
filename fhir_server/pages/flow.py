"""Where a parked authorization request stands: sign-in, then a patient (when one is needed), then an
encounter (a standalone launch asking for `launch/encounter`), then consent.

Each page re-derives this from the stored request and session, so the browser can neither
skip a step nor carry state the server did not decide: the pages only ever pass the
request id, and the only redirect target taken from outside is the validated redirect_uri.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from .. import engine
from ..auth.accounts import is_patient_user
from ..auth.scopes import ResourceScope, parse_scope, within
from ..errors import FhirError
from ..i18n import _, use_language
from ..storage import ResourceStore
from ..storage.authorizations import AuthorizationRequest
from ..storage.users import User
from .browser import Browser, browser_of, stores_of
from .errors import GoTo, PageError, unknown_request
from .patients import PAGES_POLICY

_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_READ_ANY_PATIENT = ResourceScope("user", "Patient", frozenset("r"))


@dataclass(frozen=True)
class Step:
    """A live parked request and the browser working on it."""

    parked: AuthorizationRequest
    browser: Browser

    @property
    def user(self) -> User:
        assert self.browser.user is not None, "a signed-in step"
        return self.browser.user


async def parked_request(request: Request, request_id: str | None) -> AuthorizationRequest:
    """The live parked request `request_id`; raise PageError 400 when it is malformed, unknown or expired.

    The rest of the page is in the language the app asked for with `ui_locales`, if it did.
    """
    if not request_id or not _REQUEST_ID.fullmatch(request_id):
        raise unknown_request()
    parked = await stores_of(request).authorizations.parked(request_id)
    if parked is None:
        raise unknown_request()
    if parked.ui_language is not None:
        use_language(parked.ui_language)
    return parked


async def current_step(request: Request, request_id: str | None) -> Step:
    return Step(await parked_request(request, request_id), await browser_of(request))


async def signed_in_step(request: Request, request_id: str | None) -> Step:
    """The step of a signed-in browser; raise GoTo the sign-in page otherwise."""
    step = await current_step(request, request_id)
    if step.browser.user is None:
        raise GoTo(page_path("login", step.parked))
    return step


def store_of(request: Request) -> ResourceStore:
    store: ResourceStore = request.app.state.store
    return store


def page_path(name: str, parked: AuthorizationRequest) -> str:
    """The path of one of the flow's pages ("login", "patient", "encounter", "consent") for this request."""
    return f"/auth/{name}?request={parked.id}"


def needs_patient(parked: AuthorizationRequest) -> bool:
    return parked.launch_patient is None and "launch/patient" in parked.scopes


def needs_encounter(parked: AuthorizationRequest) -> bool:
    """A standalone launch asking for `launch/encounter` (an EHR launch brings its encounter, or none)."""
    return not parked.ehr_launch and "launch/encounter" in parked.scopes


def picked_encounter(step: Step) -> str | None:
    """The encounter chosen for this request: None when none is chosen yet, "" when there was none to choose."""
    session = step.browser.session
    return session.encounters.get(step.parked.id) if session else None


def picks_patient(request: Request, user: User) -> bool:
    """Whether `user` chooses the patient: staff whose role may read any patient, never a patient user."""
    ceiling = [parse_scope(scope) for scope in stores_of(request).roles.get(user.role, [])]
    may_read_any = any(c is not None and within(_READ_ANY_PATIENT, c) for c in ceiling)
    return may_read_any and not is_patient_user(user.fhir_user)


async def context_patient(request: Request, step: Step) -> str | None:
    """The patient id this authorization is about; None when staff have not picked one (or need none).

    Whoever may not pick (patient users, and accounts whose role cannot read any patient) gets
    their own record (a RelatedPerson's: the patient they relate to), and may not take part in
    an EHR launch for anybody else's.
    """
    user, parked = step.user, step.parked
    if not picks_patient(request, user):
        own = await own_patient(store_of(request), user)
        if parked.launch_patient is not None and parked.launch_patient != own:
            raise PageError(403, _("Not your record"), _("This launch is for another patient's record."))
        return own
    if parked.launch_patient is not None:
        return parked.launch_patient
    session = step.browser.session
    return session.patients.get(parked.id) if session else None


async def own_patient(store: ResourceStore, user: User) -> str:
    """The Patient id a patient user stands for; raise PageError 403 when the account links to none."""
    kind, _sep, ident = (user.fhir_user or "").partition("/")
    if kind == "Patient":
        return ident
    related: dict[str, Any] = {}
    if kind == "RelatedPerson":
        with suppress(FhirError):  # a dangling link: no patient, said below
            related = (await engine.read_resource(store, PAGES_POLICY, "RelatedPerson", ident)).resource()
    reference = str(related.get("patient", {}).get("reference", ""))
    if reference.startswith("Patient/") and reference.count("/") == 1:
        return reference.split("/", 1)[1]
    raise PageError(403, _("No patient record"), _("Your account is not linked to a patient record; ask the practice."))
