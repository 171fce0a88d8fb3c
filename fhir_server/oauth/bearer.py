"""The grant behind an `Authorization: Bearer` header, for the few `/auth` routes that take one
(introspection, EHR launch, client administration). RFC 6750 §2.1."""

from __future__ import annotations

from fastapi import Request

from ..auth.grant import Grant
from ..auth.policy import administers, resource_scopes
from .errors import BearerRefused
from .state import oauth_of


async def bearer_grant(request: Request) -> Grant | None:
    """The live access grant of the request's bearer token; None when absent, unknown, expired or revoked."""
    scheme, _sep, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return await oauth_of(request).grants.lookup(token.strip())


async def _required(request: Request) -> Grant:
    grant = await bearer_grant(request)
    if grant is None:
        raise BearerRefused(401, "invalid_token", "A live bearer token is required.")
    return grant


async def staff_grant(request: Request) -> Grant:
    """The grant of a staff user or a system: one with a `user/` or `system/` scope. Raise BearerRefused."""
    grant = await _required(request)
    if not any(s.context in ("user", "system") for s in resource_scopes(grant.scopes)):
        raise BearerRefused(403, "insufficient_scope", "This needs a token with a user/ or system/ scope.")
    return grant


async def admin_grant(request: Request) -> Grant:
    """The grant of an administrator: role admin, or a `system/*.cruds` scope. Raise BearerRefused."""
    grant = await _required(request)
    if not administers(grant.role, resource_scopes(grant.scopes)):
        raise BearerRefused(403, "insufficient_scope", "This needs an administrator's token (system/*.cruds).")
    return grant
