"""The response to a create, update or patch, shaped by `Prefer: return=` (R4 http.html#ops)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from ..engine import WriteResult
from ..i18n import _
from .context import base_url
from .outcomes import information_outcome
from .preconditions import preferred_return
from .responses import FhirResponse, version_headers


def write_response(request: Request, result: WriteResult) -> Response:
    """201 with Location when the write created the resource, else 200; body as the client prefers."""
    record = result.record
    status = 201 if result.created else 200
    headers = version_headers(record, base_url(request) if result.created else None)
    preference = preferred_return(request)
    if preference == "minimal":
        return FhirResponse(None, status_code=status, headers=headers)
    if preference == "OperationOutcome":
        text = _("{reference} is now at version {version}.").format(
            reference=record.reference, version=record.version_id
        )
        return FhirResponse(information_outcome(text), status_code=status, headers=headers)
    return FhirResponse(record.body, status_code=status, headers=headers)
