"""The OpenID Connect id_token: who the user is, signed RS256 with the server's key.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-identity-data:
issued with `openid` and `fhirUser` (or the older `profile`); its `fhirUser` claim is the
absolute URL of the user's Patient, Practitioner, RelatedPerson or Person resource.
"""

from __future__ import annotations

from typing import Any

from joserfc.jwk import RSAKey

from ..auth.grant import Grant
from .signing import sign
from .urls import ServerUrls


def wants_id_token(scopes: tuple[str, ...]) -> bool:
    return "openid" in scopes and ("fhirUser" in scopes or "profile" in scopes)


def id_token(grant: Grant, urls: ServerUrls, key: RSAKey, nonce: str | None) -> str:
    """The signed id_token for the user behind `grant`, for its client, expiring with the access token."""
    claims: dict[str, Any] = {
        "iss": urls.issuer,
        "sub": grant.subject or grant.fhir_user,
        "aud": grant.client_id,
        "iat": int(grant.issued_at.timestamp()),
        "exp": int(grant.expires_at.timestamp()),
    }
    if grant.fhir_user:
        claims["fhirUser"] = urls.fhir_user(grant.fhir_user)
    if nonce:
        claims["nonce"] = nonce
    return sign(claims, key)
