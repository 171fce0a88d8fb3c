"""The CapabilityStatement: GET [base]/metadata. https://hl7.org/fhir/R4/http.html#capabilities

Generated from what is really there: the interactions are the names of the routes this
application serves, the types come from the R4 model, the search parameters from search/.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

import profiles

from .. import __version__
from ..engine.identity import format_instant, now
from ..search.request import SEARCH_PARAMETERS
from .context import base_url
from .responses import FhirResponse

router = APIRouter()

TYPE_INTERACTIONS = (
    "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type",
)  # fmt: skip
SYSTEM_INTERACTIONS = ("transaction", "batch", "search-system", "history-system")

_PARAMETER_INFO = {
    "_id": ("token", "http://hl7.org/fhir/SearchParameter/Resource-id", "Logical id of this artifact"),
    "_lastUpdated": (
        "date",
        "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated",
        "When the resource version last changed",
    ),
}


def capability_statement(served: frozenset[str], base: str) -> dict[str, Any]:
    """The statement for an application serving the interactions named in `served`."""
    type_interactions = [{"code": code} for code in TYPE_INTERACTIONS if code in served]
    search_params = [
        {"name": name, "definition": _PARAMETER_INFO[name][1], "type": _PARAMETER_INFO[name][0],
         "documentation": _PARAMETER_INFO[name][2]}
        for name in SEARCH_PARAMETERS
    ]  # fmt: skip
    resources = [
        {
            "type": resource_type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
            "interaction": type_interactions,
            "versioning": "versioned",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": False,
            "conditionalRead": "not-supported",
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": search_params if "search-type" in served else [],
        }
        for resource_type in profiles.RESOURCE_TYPES
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": format_instant(now()),
        "publisher": "fhir-server",
        "kind": "instance",
        "software": {"name": "fhir-server", "version": __version__},
        "implementation": {"description": "FHIR R4 server on MongoDB", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "resource": resources,
                "interaction": [{"code": code} for code in SYSTEM_INTERACTIONS if code in served],
            }
        ],
    }


@router.get("/metadata", name="capabilities")
async def metadata(request: Request) -> Response:
    return FhirResponse(capability_statement(request.app.state.interactions, base_url(request)))
