"""Client metadata (RFC 7591 names) into a registered client, for the CLI, the admin API and
dynamic registration alike.

https://datatracker.ietf.org/doc/html/rfc7591#section-2. `token_endpoint_auth_method` picks
the kind of client: `none` (public), `client_secret_basic` or `client_secret_post` (confidential symmetric: a secret
is generated and shown once, only its hash kept) or `private_key_jwt` (confidential
asymmetric: `jwks` inline or `jwks_uri`). `scope` is the client's ceiling; `launch_url` is
where an EHR launch sends the browser (our extension); `logo_uri` is the app's logo, shown on the
sign-in and consent pages.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..auth.scopes import ScopeError, parse_scope, split_scopes
from ..storage.clients import ASYMMETRIC, PUBLIC, SYMMETRIC, Client
from .client_auth import hash_secret

METHOD_KINDS = {"none": PUBLIC, "client_secret_basic": SYMMETRIC, "client_secret_post": SYMMETRIC,
                "private_key_jwt": ASYMMETRIC}  # fmt: skip
KIND_METHODS = {PUBLIC: "none", SYMMETRIC: "client_secret_basic", ASYMMETRIC: "private_key_jwt"}
"""What a stored client is shown as; a symmetric client may use either secret method at the token endpoint."""
_USER_GRANTS = ("authorization_code", "refresh_token")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,128}")
_UNSAFE_SCHEMES = ("javascript", "data", "vbscript", "file")


class RegistrationError(ValueError):
    """Metadata that cannot be registered; `error` is the RFC 7591 §3.2.2 code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error


@dataclass(frozen=True)
class Registration:
    """A client ready to store, and its secret (symmetric clients only: shown once, never stored)."""

    client: Client
    secret: str | None = None


def _strings(metadata: Mapping[str, Any], name: str) -> list[str]:
    value = metadata.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistrationError("invalid_client_metadata", f"{name} must be a list of strings.")
    return value


def _text(metadata: Mapping[str, Any], name: str) -> str | None:
    value = metadata.get(name)
    if value is not None and not isinstance(value, str):
        raise RegistrationError("invalid_client_metadata", f"{name} must be a string.")
    return value


def _web_url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
        raise RegistrationError("invalid_client_metadata", f"{name} must be an absolute http(s) URL: {value}")
    return value


def _redirect_uris(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    uris = _strings(metadata, "redirect_uris")
    for uri in uris:
        parts = urlsplit(uri)
        if not parts.scheme or parts.scheme.lower() in _UNSAFE_SCHEMES or parts.fragment:
            raise RegistrationError("invalid_redirect_uri", f"Not a usable redirect URI: {uri}")
        if parts.scheme in ("http", "https") and not parts.netloc:
            raise RegistrationError("invalid_redirect_uri", f"Not a usable redirect URI: {uri}")
    return tuple(uris)


def _scopes(metadata: Mapping[str, Any], *, dynamic: bool) -> tuple[str, ...]:
    scopes = split_scopes(_text(metadata, "scope") or "")
    for scope in scopes:
        try:
            parsed = parse_scope(scope)
        except ScopeError as exc:
            raise RegistrationError("invalid_client_metadata", str(exc)) from exc
        if dynamic and parsed is not None and parsed.context == "system":
            raise RegistrationError("invalid_client_metadata", "Dynamically registered apps get no system/ scopes.")
    return tuple(scopes)


def _jwks(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    jwks = metadata.get("jwks")
    if jwks is None:
        return None
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise RegistrationError("invalid_client_metadata", "jwks must be a JWK set with at least one key.")
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC") or not isinstance(key.get("kid"), str):
            raise RegistrationError("invalid_client_metadata", "Each jwks key needs kty RSA or EC and a kid.")
    return {"keys": keys}


def _check_types(metadata: Mapping[str, Any], kind: str, dynamic: bool) -> None:
    allowed = _USER_GRANTS if dynamic or kind != ASYMMETRIC else (*_USER_GRANTS, "client_credentials")
    for grant_type in _strings(metadata, "grant_types"):
        if grant_type not in allowed:
            raise RegistrationError("invalid_client_metadata", f"grant_type {grant_type} is not available here.")
    if any(t != "code" for t in _strings(metadata, "response_types")):
        raise RegistrationError("invalid_client_metadata", "Only the code response type is supported.")


def registration(metadata: Mapping[str, Any], *, dynamic: bool = False) -> Registration:
    """The client `metadata` describes. Raise RegistrationError naming the first problem.

    `dynamic` (RFC 7591 self-registration) allows public apps only, without system scopes and
    with a generated client_id; the administrator's paths may choose any kind and the client_id.
    Without `token_endpoint_auth_method` a client is public.
    """
    method = _text(metadata, "token_endpoint_auth_method") or "none"
    kind = METHOD_KINDS.get(method)
    if kind is None or (dynamic and kind != PUBLIC):
        offered = "none" if dynamic else ", ".join(METHOD_KINDS)
        raise RegistrationError("invalid_client_metadata", f"token_endpoint_auth_method must be one of: {offered}.")
    _check_types(metadata, kind, dynamic)
    client_id = (None if dynamic else _text(metadata, "client_id")) or uuid.uuid4().hex
    if not _CLIENT_ID.fullmatch(client_id):
        raise RegistrationError("invalid_client_metadata", "client_id may hold letters, digits and . _ ~ - only.")
    redirect_uris = _redirect_uris(metadata)
    if kind != ASYMMETRIC and not redirect_uris:
        raise RegistrationError("invalid_redirect_uri", "At least one redirect URI is required.")
    jwks, jwks_uri = _jwks(metadata), _text(metadata, "jwks_uri")
    if (kind == ASYMMETRIC) != (jwks is not None or jwks_uri is not None) or (jwks and jwks_uri):
        raise RegistrationError(
            "invalid_client_metadata", "A private_key_jwt client needs jwks or jwks_uri (one of them); others neither."
        )
    launch_url, logo_uri = _text(metadata, "launch_url"), _text(metadata, "logo_uri")
    secret = secrets.token_urlsafe(32) if kind == SYMMETRIC else None
    client = Client(
        client_id=client_id,
        name=_text(metadata, "client_name") or client_id,
        kind=kind,
        redirect_uris=redirect_uris,
        scopes=_scopes(metadata, dynamic=dynamic),
        secret_hash=hash_secret(secret) if secret else None,
        jwks=jwks,
        jwks_uri=_web_url(jwks_uri, "jwks_uri") if jwks_uri else None,
        launch_url=_web_url(launch_url, "launch_url") if launch_url else None,
        logo_uri=_web_url(logo_uri, "logo_uri") if logo_uri else None,
    )
    return Registration(client, secret)


def client_metadata(client: Client) -> dict[str, Any]:
    """The client as RFC 7591 metadata (never its secret or the secret's hash)."""
    grant_types = [*_USER_GRANTS, "client_credentials"] if client.kind == ASYMMETRIC else list(_USER_GRANTS)
    metadata: dict[str, Any] = {
        "client_id": client.client_id,
        "client_name": client.name,
        "token_endpoint_auth_method": KIND_METHODS[client.kind],
        "redirect_uris": list(client.redirect_uris),
        "grant_types": grant_types,
        "response_types": ["code"],
        "scope": " ".join(client.scopes),
    }
    optional = {"jwks": client.jwks, "jwks_uri": client.jwks_uri, "launch_url": client.launch_url,
                "logo_uri": client.logo_uri}  # fmt: skip
    return {**metadata, **{k: v for k, v in optional.items() if v is not None}}
