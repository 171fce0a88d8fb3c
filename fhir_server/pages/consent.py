"""The consent page: GET/POST /auth/consent?request=<id>.

Shows the app, the patient in context and what it may do (choices.py), and ends the
authorization request: Approve issues a one-time code carrying exactly the approved
scopes and context and sends the browser to the app's redirect_uri with `code` and
`state`; Deny (or approving nothing) sends `error=access_denied`. Either way the parked
request is gone afterwards, so it cannot be answered twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from ..auth.scopes import ScopeError
from ..errors import FhirError
from ..i18n import _
from ..storage.authorizations import AuthorizationCode
from ..storage.clients import Client
from .browser import check_csrf, field, stores_of
from .choices import approved_scopes, consent_choices, offered_scopes
from .encounters import EncounterRow, encounter_row
from .errors import GoTo, PageError, PageRoute, unknown_request
from .flow import (
    Step,
    context_patient,
    needs_encounter,
    needs_patient,
    page_path,
    picked_encounter,
    signed_in_step,
    store_of,
)
from .patients import PAGES_POLICY, PatientRow, describe_patient
from .responses import form_target, image_sources, page, redirect_to_app

router = APIRouter(route_class=PageRoute)

CODE_LIFETIME = timedelta(seconds=60)


@dataclass(frozen=True)
class Offer:
    """What the consent page is about: the app, the patient in context and the scopes on offer."""

    client: Client
    patient: str | None
    encounter: str | None
    scopes: list[str]


async def _offer(request: Request, step: Step) -> Offer:
    stores = stores_of(request)
    client = await stores.clients.get(step.parked.client_id)
    if client is None:
        raise PageError(400, _("Unknown app"), _("This app is not registered with this server."))
    ceiling = stores.roles.get(step.user.role)
    if ceiling is None:
        raise PageError(
            403, _("Unknown role"), _("Your account's role no longer exists; ask an administrator to fix it.")
        )
    patient = await context_patient(request, step)
    if patient is None and needs_patient(step.parked):
        raise GoTo(page_path("patient", step.parked))
    encounter = step.parked.launch_encounter
    if patient is not None and needs_encounter(step.parked):
        encounter = picked_encounter(step)
        if encounter is None:
            raise GoTo(page_path("encounter", step.parked))
    try:
        scopes = offered_scopes(step.parked.scopes, ceiling, client.scopes)
    except ScopeError as exc:
        raise PageError(400, _("Bad request"), str(exc)) from exc
    return Offer(client, patient, encounter or None, scopes)


async def _patient_row(request: Request, patient_id: str | None) -> PatientRow | None:
    if patient_id is None:
        return None
    return await describe_patient(store_of(request), patient_id) or PatientRow(patient_id, _("Unknown patient"), "", "")


async def _encounter_row(request: Request, encounter_id: str | None) -> EncounterRow | None:
    if encounter_id is None:
        return None
    try:
        record = await engine.read_resource(store_of(request), PAGES_POLICY, "Encounter", encounter_id)
    except FhirError:
        return EncounterRow(encounter_id, _("Unknown visit"), "", "")
    return encounter_row(record.resource())


@router.get("/consent")
async def show_consent(request: Request) -> Response:
    step = await signed_in_step(request, request.query_params.get("request"))
    offer = await _offer(request, step)
    assert step.browser.session is not None
    if offer.client.first_party:
        return await _answer(request, step, offer.scopes, offer)
    return page(
        "consent.html",
        form_targets=(form_target(step.parked.redirect_uri),),
        image_sources=image_sources(offer.client),
        title=_("Allow access"),
        request_id=step.parked.id,
        csrf=step.browser.session.csrf,
        user=step.user,
        app=offer.client,
        patient=await _patient_row(request, offer.patient),
        encounter=await _encounter_row(request, offer.encounter),
        choices=consent_choices(offer.scopes),
    )


@router.post("/consent")
async def decide(request: Request) -> Response:
    form = await request.form()
    step = await signed_in_step(request, field(form, "request"))
    check_csrf(step.browser, field(form, "csrf_token"))
    decision = field(form, "decision")
    if decision not in ("approve", "deny"):
        raise PageError(400, _("Bad request"), _("Choose Allow or Deny."))
    offer = await _offer(request, step)
    approved = approved_scopes(offer.scopes, [v for v in form.getlist("scope") if isinstance(v, str)])
    return await _answer(request, step, approved if decision == "approve" else [], offer)


async def _answer(request: Request, step: Step, approved: list[str], offer: Offer) -> Response:
    """End the parked request: a one-time code for the `approved` scopes, or access_denied when there are none."""
    parked = step.parked
    if not await stores_of(request).authorizations.unpark(parked.id):
        raise unknown_request()
    if not approved:
        return redirect_to_app(parked, error="access_denied")
    issued_at = datetime.now(UTC)
    code = await stores_of(request).authorizations.issue_code(
        AuthorizationCode(
            client_id=parked.client_id,
            redirect_uri=parked.redirect_uri,
            scopes=tuple(approved),
            code_challenge=parked.code_challenge,
            issued_at=issued_at,
            expires_at=issued_at + CODE_LIFETIME,
            subject=step.user.username,
            role=step.user.role,
            fhir_user=step.user.fhir_user,
            patient=offer.patient,
            encounter=offer.encounter,
            nonce=parked.nonce,
            need_patient_banner=parked.launch_patient is not None,
        )
    )
    return redirect_to_app(parked, code=code)
