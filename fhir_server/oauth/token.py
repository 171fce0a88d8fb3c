"""The token endpoint: POST /auth/token. RFC 6749 §3.2 and §5.

Authenticates the client (client_auth.py), then hands the request to its grant type.
Errors are RFC 6749 JSON bodies (errors.py); every answer is `Cache-Control: no-store`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from authlib.oauth2.rfc6749.errors import InvalidRequestError, UnsupportedGrantTypeError
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..audit.context import note_caller
from .client_auth import authenticate_client
from .client_credentials import grant_client_credentials
from .code_grant import redeem_authorization_code
from .forms import form_of
from .issuing import TokenCall
from .refresh_grant import redeem_refresh_token
from .state import oauth_of, urls_of

router = APIRouter()

GRANTS: dict[str, Callable[[TokenCall], Awaitable[Response]]] = {
    "authorization_code": redeem_authorization_code,
    "refresh_token": redeem_refresh_token,
    "client_credentials": grant_client_credentials,
}


@router.post("/auth/token", include_in_schema=False)
async def token(request: Request) -> Response:
    form = await form_of(request)
    grant_type = form.get("grant_type")
    if not grant_type:
        raise InvalidRequestError("grant_type is required.")
    handler = GRANTS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantTypeError(grant_type)
    client = await authenticate_client(request, form, oauth_of(request), urls_of(request).auth("token"))
    note_caller(client_id=client.client_id)
    return await handler(TokenCall.of(request, form, client))
