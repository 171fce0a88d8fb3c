"""grant_type=refresh_token: a new access token from a refresh token, for the same or fewer scopes.

https://hl7.org/fhir/smart-app-launch/app-launch.html#step-7-app-uses-a-refresh-token-to-obtain-a-new-access-token
and RFC 6749 §6. The refresh token is not rotated: it stays valid until it expires or is
revoked, and the response hands the same one back (RFC 6749 allows either). The new access
token joins its family, so revoking any of them stops them all.
"""

from __future__ import annotations

from dataclasses import replace

from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from starlette.responses import Response

from ..auth.grant import Grant
from ..auth.scopes import ScopeError, narrow, split_scopes
from ..storage.grants import REFRESH
from .errors import plain
from .issuing import TokenCall, token_response


def _narrowed(requested: str | None, grant: Grant) -> tuple[str, ...]:
    if requested is None:
        return grant.scopes
    scopes = split_scopes(requested)
    try:
        allowed = narrow(scopes, grant.scopes)
    except ScopeError as exc:
        raise InvalidScopeError(plain(str(exc))) from exc
    wider = [s for s in scopes if s not in allowed]
    if wider or not scopes:
        asked = " ".join(wider) or "none"
        raise InvalidScopeError(plain(f"A refresh may narrow the scopes, never widen them: {asked}."))
    return tuple(scopes)


async def redeem_refresh_token(call: TokenCall) -> Response:
    refresh_token = call.form.get("refresh_token")
    if not refresh_token:
        raise InvalidRequestError("refresh_token is required.")
    grant = await call.oauth.grants.lookup(refresh_token, REFRESH)
    if grant is None or grant.client_id != call.client.client_id:
        raise InvalidGrantError("The refresh token is unknown, expired, revoked or another client's.")
    template = replace(grant, scopes=_narrowed(call.form.get("scope"), grant))
    return await token_response(call, template, refresh_token=refresh_token)
