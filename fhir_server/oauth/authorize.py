"""The authorization endpoint, by GET and by form POST: check the request, park it, send the
browser to the login page. https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code

Until the client and its redirect URI are known to match, a problem is shown to the user as
a page (never redirected: no open redirect); after that it goes back to the app as
`error`, `error_description` and `state`. PKCE S256 is required, `aud` must be this FHIR
server, and an EHR launch handle is resolved (once) here. The login, patient-picker and
consent pages take the parked request from there (see redirects.py for how they answer).
OpenID Connect `ui_locales` picks the language of those pages (and of this endpoint's own
error page) when it names one the server has; otherwise `Accept-Language` does.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    OAuth2Error,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc7636.challenge import CODE_CHALLENGE_PATTERN
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from ..i18n import _, ui_language, use_language
from ..storage.authorizations import AuthorizationRequest
from ..storage.clients import Client
from ..storage.launches import LaunchContext
from .errors import NO_STORE, UntrustedRequest
from .forms import form_of, single_valued
from .requested import requested_scopes
from .state import OAuthState, oauth_of, urls_of

router = APIRouter()

PARKED_FOR = timedelta(minutes=10)


@router.get("/auth/authorize", include_in_schema=False)
async def authorize_by_get(request: Request) -> Response:
    try:
        params = single_valued(request.query_params.multi_items())
    except InvalidRequestError as exc:
        raise UntrustedRequest(_("A parameter was given more than once.")) from exc
    return await _authorize(request, params)


@router.post("/auth/authorize", include_in_schema=False)
async def authorize_by_post(request: Request) -> Response:
    try:
        params = await form_of(request)
    except InvalidRequestError as exc:
        raise UntrustedRequest(_("The form could not be read: {reason}").format(reason=exc.description)) from exc
    return await _authorize(request, params)


async def _trusted_client(oauth: OAuthState, params: dict[str, str]) -> tuple[Client, str]:
    client_id = params.get("client_id")
    client = await oauth.clients.get(client_id) if client_id else None
    if client is None:
        raise UntrustedRequest(_("The app asking for access is not registered here (unknown client_id)."))
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise UntrustedRequest(_("The app's redirect_uri is not one registered for it."))
    return client, redirect_uri


def _check_pkce(params: dict[str, str]) -> str:
    challenge = params.get("code_challenge")
    if not challenge:
        raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
    if params.get("code_challenge_method") != "S256":
        raise InvalidRequestError("code_challenge_method must be S256 (plain is not accepted).")
    if not CODE_CHALLENGE_PATTERN.match(challenge):
        raise InvalidRequestError("code_challenge is malformed.")
    return challenge


async def _launch(
    oauth: OAuthState, client: Client, params: dict[str, str], scopes: tuple[str, ...]
) -> LaunchContext | None:
    handle = params.get("launch")
    if not handle:
        if "launch" in scopes:
            raise InvalidRequestError("The launch scope needs the launch parameter the EHR gave the app.")
        return None
    context = await oauth.launches.consume(handle)
    if context is None or context.client_id != client.client_id:
        raise InvalidRequestError("Unknown, used or expired launch.")
    return context


async def _authorize(request: Request, params: dict[str, str]) -> Response:
    oauth = oauth_of(request)
    language = ui_language(params.get("ui_locales"))
    if language is not None:
        use_language(language)
    client, redirect_uri = await _trusted_client(oauth, params)
    state = params.get("state")
    try:
        if params.get("response_type") != "code":
            raise UnsupportedResponseTypeError(params.get("response_type", ""))
        if not state:
            raise InvalidRequestError("state is required.")
        if params.get("aud", "").rstrip("/") != urls_of(request).fhir_base:
            raise InvalidRequestError("aud must be this server's FHIR base URL.")
        challenge = _check_pkce(params)
        scopes = tuple(requested_scopes(params.get("scope", ""), backend=False))
        context = await _launch(oauth, client, params, scopes)
    except OAuth2Error as exc:
        exc.state, exc.redirect_uri = state, redirect_uri
        raise
    parked = AuthorizationRequest(
        id=secrets.token_urlsafe(24),
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        code_challenge=challenge,
        expires_at=datetime.now(UTC) + PARKED_FOR,
        nonce=params.get("nonce"),
        launch_patient=context.patient if context else None,
        launch_encounter=context.encounter if context else None,
        ehr_launch=context is not None,
        ui_language=language,
    )
    await oauth.authorizations.park(parked)
    login = urls_of(request).auth("login") + "?" + urlencode({"request": parked.id})
    return RedirectResponse(login, status_code=303, headers=NO_STORE)
