"""Token revocation: POST /auth/revoke. RFC 7009.

Revoking an access or a refresh token stops its whole family (the refresh token and every
access token issued with or from it) at once. The answer is 200 whether or not the token was
known, so revocation reveals nothing; a token of another client is left alone.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..audit.context import note_caller
from ..storage.grants import ACCESS, REFRESH
from .client_auth import authenticate_client
from .errors import NO_STORE
from .forms import form_of
from .state import oauth_of, urls_of

router = APIRouter()


@router.post("/auth/revoke", include_in_schema=False)
async def revoke(request: Request) -> Response:
    form = await form_of(request)
    oauth = oauth_of(request)
    client = await authenticate_client(request, form, oauth, urls_of(request).auth("token"))
    note_caller(client_id=client.client_id)
    token = form.get("token")
    if not token:
        raise InvalidRequestError("token is required.")
    kinds = (REFRESH, ACCESS) if form.get("token_type_hint") == "refresh_token" else (ACCESS, REFRESH)
    for kind in kinds:
        grant = await oauth.grants.lookup(token, kind)
        if grant is not None:
            if grant.client_id == client.client_id:
                await oauth.grants.revoke(token)
            break
    return Response(status_code=200, headers=NO_STORE)
