"""How the login and consent pages answer the app: the redirect back with a code, or a refusal.

https://hl7.org/fhir/smart-app-launch/app-launch.html#response-5. The redirect URI was
checked against the client's registered ones when the request was parked, so it is safe to
send the browser there.
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
