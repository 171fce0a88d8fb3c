"""Every route of the authorization server, served whatever the server's auth mode."""

from __future__ import annotations

from fastapi import APIRouter

from ..routing import flat_router
from . import authorize, clients_api, discovery, introspect, launch, revoke, style, token

_MODULES = (discovery, authorize, token, revoke, introspect, launch, clients_api, style)


def oauth_router() -> APIRouter:
    """The `/auth/...` routes and the discovery documents; include before the FHIR routes, whose
    `/{type}/{id}` would otherwise take `/fhir/.well-known/...`."""
    return flat_router(*(module.router for module in _MODULES))
