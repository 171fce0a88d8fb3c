"""The CapabilityStatement: GET [base]/metadata. https://hl7.org/fhir/R4/http.html#capabilities

Generated from what is really there: the interactions are the names of the routes this
application serves, the types come from the R4 model, the search parameters from search/, the
operations from their declarations (rest/operations/catalog.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

import profiles

from .. import __version__
from ..engine.identity import format_instant, now
from ..oauth.security import rest_security
from ..oauth.urls import ServerUrls
from ..search.registry import SearchRegistry, default_registry
from .context import base_url, settings_of
from .operations.catalog import OPERATIONS
from .operations.declaration import INSTANCE, SYSTEM, TYPE
from .responses import FhirResponse

router = APIRouter()

TYPE_INTERACTIONS = (
    "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type",
)  # fmt: skip
SYSTEM_INTERACTIONS = {"bundle": ("transaction", "batch"), "search-system": ("search-system",),
                       "history-system": ("history-system",)}  # fmt: skip
"""System-level interaction codes by the name of the route that serves them."""


def _operations(level_types: tuple[tuple[str, str | None], ...], base: str) -> list[dict[str, str]]:
    """CapabilityStatement operation entries: the declarations serving one of `level_types`."""
    return [
        {"name": operation.code, "definition": operation.canonical(base)}
        for operation in OPERATIONS
        if any(operation.applies_to(level, resource_type) for level, resource_type in level_types)
    ]


def _resource_entry(resource_type: str, served: frozenset[str], registry: SearchRegistry, base: str) -> dict[str, Any]:
    parameters = registry.parameters_for(resource_type)
    references = sorted(code for code, d in parameters.items() if d.type == "reference")
    searchable = "search-type" in served
    entry = {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in TYPE_INTERACTIONS if code in served],
        "versioning": "versioned",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": searchable,
        "conditionalRead": "not-supported",
        "conditionalUpdate": "conditional-update" in served,
        "conditionalDelete": "multiple" if "conditional-delete" in served else "not-supported",
        "searchInclude": [f"{resource_type}:{code}" for code in references] if searchable else [],
        "searchParam": [parameters[code].documentation() for code in sorted(parameters)] if searchable else [],
        "operation": _operations(((TYPE, resource_type), (INSTANCE, resource_type)), base),
    }
    return {key: value for key, value in entry.items() if value != []}  # FHIR JSON has no empty arrays


def capability_statement(served: frozenset[str], base: str, registration: bool = False) -> dict[str, Any]:
    """The statement for an application serving the interactions named in `served`.

    `registration` says whether dynamic client registration is open (listed in `rest.security`).
    """
    registry = default_registry()
    resources = [_resource_entry(resource_type, served, registry, base) for resource_type in profiles.RESOURCE_TYPES]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": format_instant(now()),
        "publisher": "fhir-server",
        "kind": "instance",
        "software": {"name": "fhir-server", "version": __version__},
        "implementation": {"description": "FHIR R4 server on MongoDB", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json", "application/fhir+xml", "xml"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json", "application/fhir+xml"],
        "rest": [
            {
                "mode": "server",
                "security": rest_security(ServerUrls(base), registration),
                "resource": resources,
                "interaction": [
                    {"code": code} for route, codes in SYSTEM_INTERACTIONS.items() if route in served for code in codes
                ],
                "operation": _operations(((SYSTEM, None),), base),
            }
        ],
    }


@router.get("/metadata", name="capabilities")
async def metadata(request: Request) -> Response:
    registration = settings_of(request).dynamic_registration
    return FhirResponse(capability_statement(request.app.state.interactions, base_url(request), registration))
