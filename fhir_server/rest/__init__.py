"""REST: HTTP requests in, engine calls, FHIR responses out."""

from fastapi import APIRouter

from . import create, delete, health, history, metadata, patch, read, search, update
from .errors import install_error_handlers
from .middleware import RequestContextMiddleware


def fhir_router() -> APIRouter:
    """All FHIR routes under one router. Order matters: the first full match wins, so the
    fixed segments (`metadata`, `_history`, `_search`) come before `{resource_id}`."""
    router = APIRouter()
    for module in (metadata, history, search, read, create, update, patch, delete):
        router.include_router(module.router)
    return router


__all__ = ["RequestContextMiddleware", "fhir_router", "health", "install_error_handlers"]
