"""Client authentication by signed JWT (`private_key_jwt`) for confidential asymmetric clients.

https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html and RFC 7523:
the assertion is signed RS384 or ES384 with a key the client registered (inline JWKS or
`jwks_uri`), found by its `kid`; `iss` and `sub` are the client_id, `aud` is the token URL,
`exp` is at most five minutes ahead, and each `jti` is accepted once.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidClientError
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from ..storage.clients import ASYMMETRIC, Client
from .errors import plain
from .remote_jwks import JwksUnavailable
from .state import OAuthState

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = {"RS384": "RSA", "ES384": "EC"}
MAX_LIFETIME = 300
_SKEW = 10


def refused(reason: str) -> InvalidClientError:
    """invalid_client with 401, as RFC 6749 §5.2 asks when the client tried to authenticate."""
    return InvalidClientError(description=plain(reason), status_code=401)


def _unverified(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        compact = jws.extract_compact(assertion.encode())
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise refused("The client assertion is not a signed JWT.") from exc
    if not isinstance(claims, dict):
        raise refused("The client assertion is not a signed JWT.")
    return dict(compact.protected), claims


async def _key_sets(client: Client, oauth: OAuthState, fresh: bool) -> list[dict[str, Any]]:
    if client.jwks_uri:
        try:
            return await oauth.remote_jwks.keys(client.jwks_uri, fresh=fresh)
        except JwksUnavailable as exc:
            raise refused(f"The client's key set could not be fetched ({exc}).") from exc
    return list((client.jwks or {}).get("keys", []))


async def _find_key(client: Client, oauth: OAuthState, kid: str, alg: str) -> dict[str, Any]:
    for fresh in (False, True):
        for key in await _key_sets(client, oauth, fresh):
            if isinstance(key, dict) and key.get("kid") == kid and key.get("kty") == ASSERTION_ALGS[alg]:
                return key
        if not client.jwks_uri:
            break
    raise refused(f"No key with kid {kid} is registered for this client.")


def _check_claims(claims: dict[str, Any], token_url: str) -> tuple[str, int]:
    audience = claims.get("aud")
    if token_url not in (audience if isinstance(audience, list) else [audience]):
        raise refused("The client assertion aud must be the token endpoint URL.")
    expires = claims.get("exp")
    now = time.time()
    if not isinstance(expires, int | float) or expires <= now - _SKEW:
        raise refused("The client assertion has expired or has no exp.")
    if expires > now + MAX_LIFETIME + _SKEW:
        raise refused("The client assertion exp is more than five minutes ahead.")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise refused("The client assertion has no jti.")
    return jti, int(expires)


async def verify_assertion(assertion: str, oauth: OAuthState, token_url: str) -> Client:
    """The client that signed `assertion`. Raise InvalidClientError (401) for any flaw."""
    header, claims = _unverified(assertion)
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ASSERTION_ALGS:
        raise refused("The client assertion must be signed with RS384 or ES384.")
    if not isinstance(kid, str):
        raise refused("The client assertion header has no kid.")
    client_id = claims.get("iss")
    if not isinstance(client_id, str) or claims.get("sub") != client_id:
        raise refused("The client assertion iss and sub must both be the client_id.")
    client = await oauth.clients.get(client_id)
    if client is None or client.kind != ASYMMETRIC:
        raise refused("Unknown client, or not one that authenticates with private_key_jwt.")
    if header.get("jku") not in (None, client.jwks_uri):
        raise refused("The client assertion jku is not the client's registered jwks_uri.")
    key = await _find_key(client, oauth, kid, alg)
    try:
        jwt.decode(assertion, import_key(key), algorithms=[alg])
    except (JoseError, ValueError) as exc:
        raise refused("The client assertion signature does not verify.") from exc
    jti, expires = _check_claims(claims, token_url)
    if not await oauth.jtis.use(client_id, jti, datetime.fromtimestamp(expires + _SKEW, UTC)):
        raise refused("The client assertion jti was used before.")
    return client
