"""Who is calling: the bearer token of a request turned into its AccessPolicy (a FastAPI dependency).

https://hl7.org/fhir/smart-app-launch/app-launch.html#access-token and RFC 6750 section 3:
no token is a 401 with `WWW-Authenticate: Bearer realm="..."`; a token that is unknown,
expired or revoked is a 401 with `error="invalid_token"`. The grant behind the token is kept
per process for a few seconds (storage/grants.py `cached_lookup`): a revoked token stops at once
in the worker that revoked it and within GRANT_CACHE_SECONDS in the others.
Routes that must stay public (`/metadata`, discovery, health) do not depend on it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..audit.context import note_policy
from ..auth.policy import AccessPolicy
from ..errors import Unauthorized
from ..i18n import _
from ..storage.grants import MongoGrantStore
from .context import base_url, settings_of

OPEN_POLICY = AccessPolicy.open()


def _challenge(request: Request, error: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{base_url(request)}"'
    if error:
        value += f', error="{error}"'
    return {"WWW-Authenticate": value}


async def policy_of(request: Request) -> AccessPolicy:
    """The caller's policy: open mode gives everyone full access, smart mode reads the bearer token.

    Raises Unauthorized (401) without a usable token.
    """
    if settings_of(request).auth == "open":
        note_policy(OPEN_POLICY)
        return OPEN_POLICY
    scheme, _sep, token = request.headers.get("authorization", "").strip().partition(" ")
    if not scheme:
        raise Unauthorized(_("This server needs an access token: send 'Authorization: Bearer <token>'."),
                           headers=_challenge(request))  # fmt: skip
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(_("Only bearer tokens are accepted: send 'Authorization: Bearer <token>'."),
                           headers=_challenge(request, "invalid_request"))  # fmt: skip
    grants: MongoGrantStore = request.app.state.grants
    grant = await grants.cached_lookup(token.strip())
    if grant is None:
        raise Unauthorized(_("The access token is unknown, expired or revoked."),
                           headers=_challenge(request, "invalid_token"))  # fmt: skip
    roles: dict[str, list[str]] = request.app.state.roles
    policy = AccessPolicy.from_grant(grant, roles)
    note_policy(policy)
    return policy


async def admin_policy(request: Request) -> AccessPolicy:
    """The policy of an administrator (see AccessPolicy.require_admin); 401 without a token, else 403."""
    policy = await policy_of(request)
    policy.require_admin()
    return policy


Policy = Annotated[AccessPolicy, Depends(policy_of)]
"""A route parameter annotated with this receives the caller's policy (or the request ends in a 401)."""
