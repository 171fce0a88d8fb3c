"""The encounter picker: GET/POST /auth/encounter?request=<id>.

A standalone launch asking for `launch/encounter` comes here once the patient is known
(picked by staff, or a patient user's own record): the user chooses one of the patient's
encounters, newest first, read with their own policy (encounters.py), or "No encounter". A
patient without encounters the user may see gets none in context: SMART lets the server
leave `encounter` out of the token response, and the app must cope with that.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import FhirError
from ..i18n import _
from ..oauth.launch_context import check_launch_context
from .browser import check_csrf, field, stores_of
from .encounters import EncounterRow, find_encounters, user_policy
from .errors import GoTo, PageRoute
from .flow import Step, context_patient, needs_encounter, needs_patient, page_path, signed_in_step, store_of
from .responses import page, redirect_here

router = APIRouter(route_class=PageRoute)


async def _patient(request: Request, step: Step) -> str:
    """The patient whose encounters are offered; GoTo the next page when there is nothing to pick."""
    if not needs_encounter(step.parked):
        raise GoTo(page_path("consent", step.parked))
    patient = await context_patient(request, step)
    if patient is None:
        raise GoTo(page_path("patient" if needs_patient(step.parked) else "consent", step.parked))
    return patient


def _picker(step: Step, matches: list[EncounterRow], status: int = 200, error: str | None = None) -> Response:
    assert step.browser.session is not None
    return page(
        "encounter.html",
        status,
        title=_("Choose an encounter"),
        request_id=step.parked.id,
        csrf=step.browser.session.csrf,
        user=step.user,
        matches=matches,
        error=error,
    )


async def _choose(request: Request, step: Step, encounter: str) -> Response:
    assert step.browser.cookie is not None
    await stores_of(request).sessions.pick_encounter(step.browser.cookie, step.parked.id, encounter)
    return redirect_here(page_path("consent", step.parked))


@router.get("/encounter")
async def show_encounters(request: Request) -> Response:
    step = await signed_in_step(request, request.query_params.get("request"))
    patient = await _patient(request, step)
    policy = user_policy(step.user, stores_of(request).roles, patient)
    matches = await find_encounters(store_of(request), policy, patient)
    if not matches:
        return await _choose(request, step, "")
    return _picker(step, matches)


@router.post("/encounter")
async def pick_encounter(request: Request) -> Response:
    form = await request.form()
    step = await signed_in_step(request, field(form, "request"))
    check_csrf(step.browser, field(form, "csrf_token"))
    patient = await _patient(request, step)
    policy = user_policy(step.user, stores_of(request).roles, patient)
    encounter = field(form, "encounter")
    if not encounter:  # the user chose no particular encounter
        return await _choose(request, step, "")
    try:
        await check_launch_context(store_of(request), policy, patient, encounter)
    except FhirError:
        matches = await find_encounters(store_of(request), policy, patient)
        return _picker(step, matches, 400, _("Choose an encounter from the list."))
    return await _choose(request, step, encounter)
