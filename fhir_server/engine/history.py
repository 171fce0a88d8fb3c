"""FHIR history interaction: instance, type and system level. https://hl7.org/fhir/R4/http.html#history

Entries come newest first. Pages are cut with a keyset cursor (lastUpdated, key) instead of
an offset, so a page never repeats or skips entries while other clients keep writing.

Access: instance history needs `r` on the type, type and system history `s`. Every stored
version carries the patient compartments it was in, so a patient-scoped token sees exactly
the versions that were in its patient's compartment (of every type it may read), filtered
in the query. Every version also keeps its search entries, so under a granular scope
(`patient/Observation.rs?category=...`) only the versions that matched its query are listed
(a deletion: when the version it deleted did); versions stored before entries were kept match
no query.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import profiles

from ..auth.policy import AccessPolicy
from ..errors import InvalidRequest
from ..i18n import _
from ..search.dates import parse_date_range
from ..search.request import parse_count, refuse_unknown
from ..storage import HistoryQuery, ResourceStore
from .access import type_criteria
from .identity import check_id
from .results import Page
from .search import search_planner
from .validation import check_resource_type


@dataclass(frozen=True)
class HistoryRequest:
    resource_type: str | None
    resource_id: str | None
    since: datetime | None
    at: tuple[datetime, datetime] | None
    count: int
    cursor: str | None
    echoed: tuple[tuple[str, str], ...]
    """The parameters understood, in order, for the self link."""


def _encode_cursor(moment: datetime, key: str) -> str:
    raw = f"{int(moment.timestamp() * 1000)}~{key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        millis, key = raw.split("~", 1)
        return datetime.fromtimestamp(int(millis) / 1000, UTC), key
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(_("The paging cursor is not valid."), expression="_cursor") from exc


def parse_history_request(
    resource_type: str | None,
    resource_id: str | None,
    query: Sequence[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
    strict: bool,
) -> HistoryRequest:
    """Read `_since`, `_at`, `_count` and the paging cursor; raise InvalidRequest on malformed values."""
    if resource_type is not None:
        check_resource_type(resource_type)
    if resource_id is not None:
        check_id(resource_id)
    since = at = cursor = None
    count = default_count
    echoed: list[tuple[str, str]] = []
    unknown: list[str] = []
    for name, raw in query:
        if name == "_since":
            since = parse_date_range(raw, "_since").low
        elif name == "_at":
            at_range = parse_date_range(raw, "_at")
            at = (at_range.low, at_range.high)
        elif name == "_count":
            count = parse_count(raw, default_count, max_count)
        elif name == "_cursor":
            cursor = raw
            continue
        elif name in ("_format", "_pretty"):
            continue
        else:
            unknown.append(name)
            continue
        echoed.append((name, raw))
    refuse_unknown(unknown, strict, "history")
    return HistoryRequest(resource_type, resource_id, since, at, count, cursor, tuple(echoed))


async def _access(store: ResourceStore, policy: AccessPolicy, request: HistoryRequest) -> dict[str, Any] | None:
    compile_filters = search_planner(store, policy).clauses
    if request.resource_type is None:
        return await type_criteria(policy, "s", profiles.RESOURCE_TYPES, compile_filters)
    permission = "r" if request.resource_id is not None else "s"
    policy.require(permission, request.resource_type)
    return await type_criteria(policy, permission, [request.resource_type], compile_filters)


async def history(store: ResourceStore, policy: AccessPolicy, request: HistoryRequest) -> Page:
    """One page of versions, newest first, with the total number of matching versions.

    Raises Forbidden (403) when the policy allows no history of the type(s) asked for.
    """
    query = HistoryQuery(
        criteria=await _access(store, policy, request),
        resource_type=request.resource_type,
        resource_id=request.resource_id,
        since=request.since,
        at_start=request.at[0] if request.at else None,
        at_end=request.at[1] if request.at else None,
        after=_decode_cursor(request.cursor) if request.cursor else None,
    )
    total = await store.count_history(replace(query, after=None))
    if request.count == 0:
        return Page([], total, None)
    records = await store.history(query, request.count + 1)
    more = len(records) > request.count
    records = records[: request.count]
    last = records[-1] if records else None
    next_cursor = _encode_cursor(last.last_updated, f"{last.reference}/{last.version_id}") if more and last else None
    return Page(records, total, next_cursor)
