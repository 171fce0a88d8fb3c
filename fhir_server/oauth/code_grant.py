"""grant_type=authorization_code: a one-time code and its PKCE verifier for tokens.

https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-access-token and RFC 7636 §4.6:
the code is redeemed once, by the client it was issued to, with the same redirect_uri, and
only when SHA-256 of the verifier matches the challenge. RFC 6749 §4.1.2: a code presented a
second time is refused and every token issued from it (the whole family: access and refresh
tokens, and access tokens refreshed since) is revoked, whoever presents it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636.challenge import CODE_VERIFIER_PATTERN, compare_s256_code_challenge
from starlette.responses import Response

from ..auth.grant import Grant
from ..storage.authorizations import CodeReused
from .issuing import TokenCall, new_refresh_token, refresh_lifetime, token_response

STYLE_PATH = "style"


async def redeem_authorization_code(call: TokenCall) -> Response:
    code_value, redirect_uri, verifier = (call.form.get(k) for k in ("code", "redirect_uri", "code_verifier"))
    if not code_value or not redirect_uri:
        raise InvalidRequestError("code and redirect_uri are required.")
    if not verifier or not CODE_VERIFIER_PATTERN.match(verifier):
        raise InvalidRequestError("code_verifier is missing or malformed (43 to 128 unreserved characters).")
    family = uuid.uuid4().hex
    try:
        code = await call.oauth.authorizations.redeem_code(code_value, family)
    except CodeReused as reused:
        await call.oauth.grants.revoke_family(reused.family)
        raise InvalidGrantError("The code was already used; the tokens issued with it are revoked.") from None
    if code is None:
        raise InvalidGrantError("The code is unknown, expired or already used.")
    if code.client_id != call.client.client_id:
        raise InvalidGrantError("The code was issued to another client.")
    if code.redirect_uri != redirect_uri:
        raise InvalidGrantError("redirect_uri differs from the one the code was requested with.")
    if not compare_s256_code_challenge(verifier, code.code_challenge):
        raise InvalidGrantError("code_verifier does not match the code_challenge.")
    template = Grant(
        kind="access",
        client_id=code.client_id,
        scopes=code.scopes,
        issued_at=code.issued_at,
        expires_at=code.expires_at,
        family=family,
        subject=code.subject,
        role=code.role,
        fhir_user=code.fhir_user,
        patient=code.patient,
        encounter=code.encounter,
    )
    extra = {"need_patient_banner": code.need_patient_banner, "smart_style_url": call.urls.auth(STYLE_PATH)}
    refresh = await new_refresh_token(call, template)
    response = await token_response(call, template, refresh_token=refresh, nonce=code.nonce, extra=extra)
    if await call.oauth.authorizations.settle_code(code_value, _longest_life(call, code.scopes)):
        await call.oauth.grants.revoke_family(family)
        raise InvalidGrantError("The code was used twice; the tokens issued with it are revoked.")
    return response


def _longest_life(call: TokenCall, scopes: tuple[str, ...]) -> datetime:
    """When the last token issued from a code expires: its refresh token's end, else its access token's."""
    access = timedelta(seconds=call.settings.access_token_seconds)
    return datetime.now(UTC) + max(access, refresh_lifetime(scopes, call.settings) or access)
