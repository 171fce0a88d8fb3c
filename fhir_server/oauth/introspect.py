"""Token introspection: POST /auth/introspect. RFC 7662 with SMART's fields.

https://hl7.org/fhir/smart-app-launch/token-introspection.html: `active`, `scope`,
`client_id`, `exp`, the launch context, and `iss`/`sub`/`fhirUser` when the user is known.
The caller authenticates as a confidential client or with a bearer token of its own;
anything that is not a live token is `{"active": false}`.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from ..auth.grant import Grant
from ..storage.grants import ACCESS, REFRESH
from .bearer import bearer_grant
from .client_auth import authenticate_client
from .errors import NO_STORE, BearerRefused
from .forms import form_of
from .state import oauth_of, urls_of
from .urls import ServerUrls

router = APIRouter()


def introspection(grant: Grant, urls: ServerUrls) -> dict[str, Any]:
    """The RFC 7662 answer for a live token."""
    body: dict[str, Any] = {
        "active": True,
        "scope": grant.scope,
        "client_id": grant.client_id,
        "exp": int(grant.expires_at.timestamp()),
        "iat": int(grant.issued_at.timestamp()),
    }
    if grant.kind == ACCESS:
        body["token_type"] = "Bearer"  # RFC 7662 §2.2: an access token type; refresh tokens have none
    if grant.subject or grant.fhir_user:
        body.update(iss=urls.issuer, sub=grant.subject or grant.fhir_user)
    if grant.fhir_user:
        body["fhirUser"] = urls.fhir_user(grant.fhir_user)
    if grant.patient:
        body["patient"] = grant.patient
    if grant.encounter:
        body["encounter"] = grant.encounter
    return body


@router.post("/auth/introspect", include_in_schema=False)
async def introspect(request: Request) -> Response:
    form = await form_of(request)
    oauth, urls = oauth_of(request), urls_of(request)
    if request.headers.get("authorization", "")[:7].lower() == "bearer ":
        if await bearer_grant(request) is None:
            raise BearerRefused(401, "invalid_token", "The bearer token is not active.")
    else:
        await authenticate_client(request, form, oauth, urls.auth("token"), public=False)
    token = form.get("token")
    if not token:
        raise InvalidRequestError("token is required.")
    for kind in (ACCESS, REFRESH):
        grant = await oauth.grants.lookup(token, kind)
        if grant is not None:
            return JSONResponse(introspection(grant, urls), headers=NO_STORE)
    return JSONResponse({"active": False}, headers=NO_STORE)
