"""How the login and consent pages answer the app: the redirect back with a code, or a refusal.

https://hl7.org/fhir/smart-app-launch/app-launch.html#response-5. The redirect URI was
checked against the client's registered ones when the request was parked, so it is safe to
send the browser there.

The pages' side of the contract, for `/auth/login?request=<id>`:

    oauth = oauth_of(request)                       # oauth/state.py
    parked = await oauth.authorizations.parked(id)  # None: unknown or expired (10 minutes)
    client = await oauth.clients.get(parked.client_id)
    scopes = narrow(narrow(narrow(parked.scopes, consented), role_ceiling), client.scopes or parked.scopes)
    code = await oauth.authorizations.issue_code(AuthorizationCode(
        client_id=parked.client_id, redirect_uri=parked.redirect_uri, scopes=tuple(scopes),
        code_challenge=parked.code_challenge, issued_at=now, expires_at=now + 1 minute,
        subject=user id, role=role, fhir_user="Practitioner/123", patient=parked.launch_patient
        or the picked patient, encounter=parked.launch_encounter, nonce=parked.nonce,
        need_patient_banner=parked.ehr_launch))
    await oauth.authorizations.unpark(id)
    return RedirectResponse(approved(parked, code), 303)   # or refused(parked) on "deny"
"""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri

from ..storage.authorizations import AuthorizationRequest


def approved(parked: AuthorizationRequest, code: str) -> str:
    """Where to send the browser once `code` was issued for `parked`."""
    return str(add_params_to_uri(parked.redirect_uri, [("code", code), ("state", parked.state)]))


def refused(parked: AuthorizationRequest, error: str = "access_denied", description: str | None = None) -> str:
    """Where to send the browser when the user (or policy) refuses `parked`; RFC 6749 §4.1.2.1."""
    params = [("error", error), *([("error_description", description)] if description else []), ("state", parked.state)]
    return str(add_params_to_uri(parked.redirect_uri, params))
