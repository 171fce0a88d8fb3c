"""REST: HTTP requests in, engine calls, FHIR responses out."""

from fastapi import APIRouter
from fastapi.routing import APIRoute

from ..routing import flat_router
from . import (
    bulk,
    bundle,
    conditional,
    create,
    delete,
    health,
    history,
    metadata,
    operations,
    patch,
    read,
    reindex,
    search,
    system_search,
    update,
)
from .errors import install_error_handlers
from .middleware import RequestContextMiddleware

_MODULES = (
    metadata,
    bulk,
    reindex,
    operations,
    system_search,
    history,
    search,
    read,
    create,
    update,
    patch,
    delete,
    conditional,
    bundle,
)
"""Order matters: the first full match wins, so fixed segments (`metadata`, `_history`,
`_search`) come before `{resource_id}`, and operations (`/Patient/{id}/$everything`) before
the compartment search (`/{type}/{id}/{type}`)."""


def fhir_router() -> APIRouter:
    """All FHIR routes in one flat router, the well-formed read first (see paths.py)."""
    return flat_router(read.well_formed_router, *(module.router for module in _MODULES))


def served_interactions() -> frozenset[str]:
    """The names of the FHIR routes (interaction codes such as `read`), for the CapabilityStatement."""
    return frozenset(route.name for module in _MODULES for route in module.router.routes if isinstance(route, APIRoute))


__all__ = ["RequestContextMiddleware", "fhir_router", "health", "install_error_handlers", "served_interactions"]
