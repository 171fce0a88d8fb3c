"""The patient picker: GET/POST /auth/patient?request=<id>.

Staff on a standalone launch that asks for `launch/patient` choose the patient here:
search by name (a GET form, so it works without scripts), then pick one of the matches.
Patient users (and roles that cannot read any patient) never see it: they get their own
record (flow.context_patient).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from ..errors import FhirError
from ..i18n import _
from .browser import check_csrf, field, stores_of
from .errors import PageRoute
from .flow import Step, needs_patient, page_path, picks_patient, signed_in_step, store_of
from .patients import PAGES_POLICY, PatientRow, find_patients
from .responses import page, redirect_here

router = APIRouter(route_class=PageRoute)

MAX_NAME = 100


def _picks(request: Request, step: Step) -> bool:
    return needs_patient(step.parked) and picks_patient(request, step.user)


def _picker(step: Step, name: str, matches: list[PatientRow], status: int = 200, error: str | None = None) -> Response:
    assert step.browser.session is not None
    return page(
        "picker.html",
        status,
        title=_("Choose a patient"),
        request_id=step.parked.id,
        csrf=step.browser.session.csrf,
        user=step.user,
        name=name,
        searched=bool(name),
        matches=matches,
        error=error,
    )


@router.get("/patient")
async def show_picker(request: Request) -> Response:
    step = await signed_in_step(request, request.query_params.get("request"))
    if not _picks(request, step):
        return redirect_here(page_path("consent", step.parked))
    name = request.query_params.get("name", "").strip()[:MAX_NAME]
    matches = await find_patients(store_of(request), name) if name else []
    return _picker(step, name, matches)


@router.post("/patient")
async def pick_patient(request: Request) -> Response:
    form = await request.form()
    step = await signed_in_step(request, field(form, "request"))
    check_csrf(step.browser, field(form, "csrf_token"))
    if not _picks(request, step):
        return redirect_here(page_path("consent", step.parked))
    patient_id = field(form, "patient")
    try:
        await engine.read_resource(store_of(request), PAGES_POLICY, "Patient", patient_id)
    except FhirError:
        return _picker(step, "", [], 400, _("Choose a patient from the list."))
    assert step.browser.cookie is not None
    await stores_of(request).sessions.pick_patient(step.browser.cookie, step.parked.id, patient_id)
    return redirect_here(page_path("consent", step.parked))
