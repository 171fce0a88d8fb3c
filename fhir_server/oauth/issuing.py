"""Issuing tokens and writing the token response.

https://hl7.org/fhir/smart-app-launch/app-launch.html#response-5: `access_token`,
`token_type` Bearer, numeric `expires_in`, the granted `scope`, launch context (`patient`,
`encounter`), an `id_token` for `openid fhirUser`, a `refresh_token` only with
`offline_access` or `online_access`; never cached. Tokens are opaque random strings: the
grant behind each lives in MongoDB (storage/grants.py), so a revocation is seen at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from ..auth.grant import Grant
from ..config import Settings
from ..rest.context import settings_of
from ..storage.clients import Client
from ..storage.grants import ACCESS, REFRESH
from .errors import NO_STORE
from .id_token import id_token, wants_id_token
from .state import OAuthState, oauth_of, urls_of
from .urls import ServerUrls


@dataclass(frozen=True)
class TokenCall:
    """One token request: its form, the authenticated client and the server around it."""

    form: dict[str, str]
    client: Client
    oauth: OAuthState
    urls: ServerUrls
    settings: Settings

    @classmethod
    def of(cls, request: Request, form: dict[str, str], client: Client) -> TokenCall:
        return cls(form, client, oauth_of(request), urls_of(request), settings_of(request))


def refresh_lifetime(scopes: tuple[str, ...], settings: Settings) -> timedelta | None:
    """How long a refresh token lives: long with `offline_access`, a working day with `online_access`."""
    if "offline_access" in scopes:
        return timedelta(seconds=settings.offline_refresh_seconds)
    if "online_access" in scopes:
        return timedelta(seconds=settings.online_refresh_seconds)
    return None


async def new_refresh_token(call: TokenCall, template: Grant) -> str | None:
    """A refresh token in `template`'s family when its scopes ask for one; else None."""
    lifetime = refresh_lifetime(template.scopes, call.settings)
    if lifetime is None:
        return None
    now = datetime.now(UTC)
    return await call.oauth.grants.issue(replace(template, kind=REFRESH, issued_at=now, expires_at=now + lifetime))


async def token_response(
    call: TokenCall,
    template: Grant,
    *,
    refresh_token: str | None = None,
    nonce: str | None = None,
    extra: dict[str, Any] | None = None,
    seconds: int | None = None,
) -> Response:
    """Issue an access token for `template` (its kind and times are set here) and answer with it.

    `refresh_token` is returned as given; `nonce` goes into the id_token; `extra` adds
    launch fields such as `need_patient_banner`; `seconds` is the token's lifetime (default:
    the access token setting).
    """
    now = datetime.now(UTC).replace(microsecond=0)
    seconds = call.settings.access_token_seconds if seconds is None else seconds
    access = replace(template, kind=ACCESS, issued_at=now, expires_at=now + timedelta(seconds=seconds))
    body: dict[str, Any] = {
        "access_token": await call.oauth.grants.issue(access),
        "token_type": "Bearer",
        "expires_in": seconds,
        "scope": access.scope,
    }
    if access.patient:
        body["patient"] = access.patient
    if access.encounter:
        body["encounter"] = access.encounter
    if wants_id_token(access.scopes) and (access.subject or access.fhir_user):
        body["id_token"] = id_token(access, call.urls, call.oauth.signing_key, nonce)
    if refresh_token:
        body["refresh_token"] = refresh_token
    body.update(extra or {})
    return JSONResponse(body, headers=NO_STORE)
