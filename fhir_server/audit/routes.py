"""The audit log over HTTP, for administrators: `GET /admin/audit?since=&count=`.

A FHIR Bundle (searchset) of AuditEvents, newest first; `since` (ISO 8601 with a timezone)
keeps those recorded at or after it. The log is not a FHIR resource type on /fhir: the
events live in the hash-chained `audit` collection, never in the resource store, so no FHIR
write can touch them. Mounted behind `admin_policy` (rest/access.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import InvalidRequest
from ..i18n import _
from ..rest.instants import instant_param
from ..rest.responses import FhirResponse
from ..storage.audit import MongoAuditLog

router = APIRouter()

MAX_COUNT = 1000


@router.get("/audit", include_in_schema=False)
async def audit_events(request: Request, since: str | None = None, count: int = 100) -> Response:
    """The newest `count` AuditEvents (1 to 1000) as a searchset Bundle."""
    if not 1 <= count <= MAX_COUNT:
        raise InvalidRequest(_("'count' must be 1 to {max}.").format(max=MAX_COUNT), expression="count")
    audit: MongoAuditLog = request.app.state.audit
    events = [event async for event in audit.events(instant_param("since", since), count)]
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(events),
        "entry": [{"resource": event, "search": {"mode": "match"}} for event in events],
    }
    return FhirResponse(bundle)
