"""The audit log over HTTP, for administrators: `GET /admin/audit`, searched like a FHIR searchset.

A Bundle (searchset) of AuditEvents, newest first, `_count` per page (1 to 1000, default
100) with a `next` link while more match. The parameters follow the AuditEvent search
parameters (https://hl7.org/fhir/R4/auditevent.html#search); a repeated parameter narrows
(AND), comma-separated values are alternatives (OR):

- `date`: when recorded, with a prefix `eq` (default), `ge`, `gt`, `le` or `lt`, e.g.
  `date=ge2026-11-26&date=lt2026-11-27T12:00Z`; `since` (an ISO 8601 date-time) is `ge`;
- `agent` (or `who`): a user's name, an app's client id or the user's FHIR reference;
- `entity`: a reference (`Patient/1`, its versions included); `patient`: `Patient/1` or `1`;
- `type` and `subtype` (`[system|]code`: `rest`, `read`, `create`, `search-type` ...),
  `action` (C, R, U, D, E), `outcome` (0, 4, 8, 12);
- `request-id`: every event one HTTP request caused (its X-Request-Id).

Any other parameter is refused (400) rather than ignored, so a mistyped filter never passes
for an empty log. The log is not a FHIR resource type on /fhir: the events live in the
hash-chained `audit` collection, never in the resource store, so no FHIR write can touch
them. Mounted behind `admin_policy` (rest/access.py).
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..errors import InvalidRequest
from ..i18n import _
from ..rest.context import base_url
from ..rest.instants import instant_param
from ..rest.responses import FhirResponse
from ..search.dates import parse_date_range
from ..search.escaping import split_escaped
from ..search.params.number import split_comparison
from ..storage.audit import MongoAuditLog
from ..storage.audit_search import AuditSearch

router = APIRouter()

MAX_COUNT = 1000
_KINDS = {
    "agent": "agent",
    "who": "agent",
    "entity": "entity",
    "patient": "entity",
    "type": "type",
    "subtype": "subtype",
    "action": "action",
    "outcome": "outcome",
    "request-id": "request-id",
}
_PAGING = ("_count", "count", "_cursor")


def _count(raw: str | None) -> int:
    try:
        count = int(raw) if raw is not None else 100
    except ValueError:
        count = 0
    if not 1 <= count <= MAX_COUNT:
        raise InvalidRequest(_("'_count' must be 1 to {max}.").format(max=MAX_COUNT), expression="_count")
    return count


def _dates(criteria: AuditSearch, value: str) -> None:
    prefix, text = split_comparison(value, "date")
    moments = parse_date_range(text, "date")
    conditions = {
        "eq": [("$gte", moments.low), ("$lt", moments.high)],
        "ge": [("$gte", moments.low)],
        "gt": [("$gte", moments.high)],
        "le": [("$lt", moments.high)],
        "lt": [("$lt", moments.low)],
    }.get(prefix)
    if conditions is None:
        raise InvalidRequest(
            _("'date' takes the prefixes eq, ge, gt, le and lt, not '{prefix}'.").format(prefix=prefix),
            expression="date",
        )
    criteria.recorded += conditions


def audit_search(params: list[tuple[str, str]]) -> AuditSearch:
    """The query parameters of `GET /admin/audit` as an AuditSearch. Raise InvalidRequest (400)."""
    criteria = AuditSearch()
    for name, value in params:
        if name in _PAGING:
            continue
        if name == "date":
            _dates(criteria, value)
        elif name == "since":
            since = instant_param("since", value)
            if since is not None:
                criteria.recorded.append(("$gte", since))
        elif name in _KINDS:
            values = [v for v in split_escaped(value, ",") if v]
            if name == "patient":
                values = [v if v.startswith("Patient/") else f"Patient/{v}" for v in values]
            if not values:
                raise InvalidRequest(_("'{name}' needs a value.").format(name=name), expression=name)
            criteria.filters.append((_KINDS[name], values))
        else:
            raise InvalidRequest(
                _("Unknown parameter '{name}' for the audit log.").format(name=name[:60]), expression=name[:60]
            )
    return criteria


@router.get("/audit", include_in_schema=False)
async def audit_events(request: Request) -> Response:
    """One page of the AuditEvents matching the parameters, as a searchset Bundle."""
    params = request.query_params.multi_items()
    given = dict(params)
    count = _count(given.get("_count", given.get("count")))
    cursor = given.get("_cursor")
    audit: MongoAuditLog = request.app.state.audit
    events, following = await audit.search(audit_search(params), count, cursor)
    kept = [(name, value) for name, value in params if name not in _PAGING]
    kept.append(("_count", str(count)))
    self_url = f"{base_url(request).removesuffix('/fhir')}/admin/audit"
    this_page = [("_cursor", cursor)] if cursor else []
    links = [{"relation": "self", "url": f"{self_url}?{urlencode([*kept, *this_page])}"}]
    if following is not None:
        links.append({"relation": "next", "url": f"{self_url}?{urlencode([*kept, ('_cursor', following)])}"})
    bundle: dict[str, object] = {"resourceType": "Bundle", "type": "searchset", "link": links}
    if events:
        bundle["entry"] = [{"resource": event, "search": {"mode": "match"}} for event in events]
    return FhirResponse(bundle)
