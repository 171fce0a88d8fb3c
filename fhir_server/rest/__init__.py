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
    patch,
    read,
    reindex,
    search,
    system_search,
    update,
)
from .direct_read import DirectReadMiddleware
from .errors import install_error_handlers
from .middleware import RequestContextMiddleware
from .operations import routes as operations

_MODULES = (
    operations,
    metadata,
    bulk,
    reindex,
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
"""The first full match wins, but the path convertors (paths.py) keep routes from matching each
other's paths, so their order does not matter; only the generated OperationDefinitions
(operations/routes.py) must come before the read of stored resources. tests/rest/test_route_order.py
pins which route answers each kind of path, with the routes shuffled."""


def fhir_router() -> APIRouter:
    """All FHIR routes in one flat router (well-formed reads are answered before routing: direct_read.py)."""
    return flat_router(operations.definitions_router, *(module.router for module in _MODULES))


def served_interactions() -> frozenset[str]:
    """The names of the FHIR routes (interaction codes such as `read`), for the CapabilityStatement."""
    return frozenset(route.name for module in _MODULES for route in module.router.routes if isinstance(route, APIRoute))


__all__ = [
    "DirectReadMiddleware",
    "RequestContextMiddleware",
    "fhir_router",
    "health",
    "install_error_handlers",
    "served_interactions",
]
