"""Who is calling the token, revocation and introspection endpoints.

https://hl7.org/fhir/smart-app-launch/app-launch.html#step-5-app-exchanges-authorization-code-for-access-token:
public clients send only `client_id`; confidential symmetric clients use HTTP Basic
(`client_secret_basic`) or send `client_id` and `client_secret` in the form
(`client_secret_post`, RFC 6749 §2.3.1); confidential asymmetric clients send a signed assertion
(`private_key_jwt`, see assertions.py). Exactly one method per request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import unquote

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from fastapi import Request

from ..storage.clients import PUBLIC, SYMMETRIC, Client
from .assertions import JWT_BEARER, refused, verify_assertion
from .state import OAuthState


def hash_secret(secret: str) -> str:
    """What is stored of a client secret. Secrets are 256 random bits, so a plain SHA-256 suffices
    (a memory-hard KDF protects guessable passwords, which these are not)."""
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


async def _with_secret(oauth: OAuthState, client_id: str, secret: str) -> Client:
    """The symmetric client `client_id` when `secret` is its secret; raise InvalidClientError otherwise."""
    client = await oauth.clients.get(client_id) if client_id else None
    if client is None or client.kind != SYMMETRIC or not client.secret_hash:
        raise refused("Unknown client, or not one that authenticates with a client secret.")
    if not hmac.compare_digest(hash_secret(secret), client.secret_hash):
        raise refused("Wrong client secret.")
    return client


def _basic(header: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, IndexError) as exc:
        raise refused("Malformed HTTP Basic credentials.") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise refused("Malformed HTTP Basic credentials.")
    return unquote(client_id), unquote(secret)  # RFC 6749 §2.3.1 form-encodes both


async def authenticate_client(
    request: Request, form: Mapping[str, str], oauth: OAuthState, token_url: str, *, public: bool = True
) -> Client:
    """The calling client, authenticated by whichever method it used.

    `public=False` refuses clients that only name themselves. Raise InvalidClientError (401)
    when authentication fails and InvalidRequestError when methods are mixed.
    """
    header = request.headers.get("authorization", "")
    basic = header[:6].lower() == "basic "
    assertion_type = form.get("client_assertion_type")
    posted = "client_secret" in form
    if basic + posted + (assertion_type is not None) > 1:
        raise InvalidRequestError("Use one client authentication method, not several.")
    named = form.get("client_id")
    if basic or posted:
        client_id, secret = _basic(header) if basic else (named or "", form["client_secret"])
        client = await _with_secret(oauth, client_id, secret)
    elif assertion_type is not None:
        if assertion_type != JWT_BEARER:
            raise refused(f"client_assertion_type must be {JWT_BEARER}.")
        assertion = form.get("client_assertion")
        if not assertion:
            raise InvalidRequestError("client_assertion is missing.")
        client = await verify_assertion(assertion, oauth, token_url)
    else:
        found = await oauth.clients.get(named) if named else None
        if found is None:
            raise refused("Unknown or missing client_id.")
        if found.kind != PUBLIC or not public:
            raise refused("This client must authenticate (client_secret_basic, client_secret_post or private_key_jwt).")
        client = found
    if named is not None and named != client.client_id:
        raise refused("client_id does not match the client's credentials.")
    return client
