"""EHR launch: the EHR side asks for a launch handle and gets the app's launch URL.

https://hl7.org/fhir/smart-app-launch/app-launch.html#step-1-launch-ehr-launch: the browser
opens `<launch_url>?iss=<FHIR base>&launch=<handle>`; the app passes the handle to the
authorize endpoint, which puts the patient and encounter in context. `POST /auth/launch`
serves staff (a bearer token with a user/ or system/ scope), the staff launch page
(pages/launch_app.py) signed-in staff, `fhir-server launch` the command line. Each checks
the context first (launch_context.py); refusals are OperationOutcomes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.common.urls import add_params_to_uri
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from ..audit.context import note_launch
from ..auth.policy import AccessPolicy
from ..i18n import _
from ..storage import ResourceStore
from ..storage.clients import MongoClientStore
from ..storage.launches import LaunchContext, MongoLaunchStore
from .bearer import staff_grant
from .errors import NO_STORE
from .launch_context import LaunchRefused, check_launch_context
from .state import oauth_of, urls_of

router = APIRouter()

LAUNCH_FOR = timedelta(minutes=10)


async def create_launch(
    clients: MongoClientStore,
    launches: MongoLaunchStore,
    fhir_base: str,
    client_id: str,
    patient: str | None,
    encounter: str | None = None,
    created_by: str | None = None,
    *,
    store: ResourceStore,
    policy: AccessPolicy,
) -> str:
    """A new single-use launch for `client_id` and the URL that launches the app with it.

    Raise LaunchRefused when the client is unknown or has no launch URL, or no patient is given;
    UnknownContext, MismatchedContext or Forbidden when `policy` may not launch with this
    patient and encounter (see check_launch_context).
    """
    note_launch(policy, patient)
    client = await clients.get(client_id)
    if client is None:
        raise LaunchRefused(
            _("No client {client_id} is registered.").format(client_id=client_id), expression="client_id"
        )
    if not client.launch_url:
        raise LaunchRefused(_("Client {client_id} has no launch URL.").format(client_id=client_id))
    if not patient:
        raise LaunchRefused(_("A launch needs a patient."), expression="patient")
    await check_launch_context(store, policy, patient, encounter)
    context = LaunchContext(client_id, patient, encounter, datetime.now(UTC) + LAUNCH_FOR, created_by)
    handle = await launches.create(context)
    return str(add_params_to_uri(client.launch_url, [("iss", fhir_base), ("launch", handle)]))


@router.post("/auth/launch", include_in_schema=False)
async def launch(request: Request) -> Response:
    grant = await staff_grant(request)
    try:
        body: Any = await request.json()
    except ValueError:
        body = None
    fields = [body.get(k) if isinstance(body, dict) else None for k in ("client_id", "patient", "encounter")]
    client_id, patient, encounter = fields
    if not isinstance(client_id, str) or not isinstance(patient, str) or not isinstance(encounter, str | None):
        raise LaunchRefused(_("Send a JSON object with client_id, patient and optionally encounter (strings)."))
    oauth = oauth_of(request)
    policy = AccessPolicy.from_grant(grant, request.app.state.roles)
    url = await create_launch(oauth.clients, oauth.launches, urls_of(request).fhir_base, client_id, patient, encounter,
                              grant.subject, store=request.app.state.store, policy=policy)  # fmt: skip
    return JSONResponse({"launch_url": url, "expires_in": int(LAUNCH_FOR.total_seconds())}, 201, headers=NO_STORE)
