"""Searching the audit log: filters on the stored AuditEvents, newest first, paged with a cursor.

The filters read the event's own fields, never copies kept beside it, so what a search shows
is what the hash chain covers; rows the sealer refused (not written by the server) are left out.
Each searchable path has an index (path, recorded, _id) whose tail is the page order, and each
query is hinted to the index of its most selective filter.
The queries avoid `$or` and `$elemMatch`: with either, SecantusDB's planner falls back to a
collection scan. So the three places a caller can be named (user name, app, FHIR user) are
three queries merged here, the page cursor is a `recorded <=` bound plus a skip of the ties
already shown, and alternatives on one path are an `$in`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from ..errors import InvalidRequest
from ..i18n import _
from .mongo import aware

PAGE_ORDER = [("recorded", DESCENDING), ("_id", DESCENDING)]

SEARCH_INDEXES = {
    "event.entity.what.identifier.value": "request_id",
    "event.entity.what.reference": "entity",
    "event.agent.who.identifier.value": "agent_client",
    "event.agent.altId": "agent_altid",
    "event.agent.who.reference": "agent_who",
}
"""Event path → its index (path, recorded, _id), the most selective first: a query is hinted to the
first of these it filters on, else to `recorded_id`. Every request writes an event, and on the
embedded database each index adds about a fifth of a read's cost to that insert, so the
unselective fields (subtype, outcome, action, type) have none: they filter within a date range."""

_AGENT_PATHS = ("event.agent.altId", "event.agent.who.identifier.value", "event.agent.who.reference")


def _codes(path: str, values: list[str]) -> dict[str, Any]:
    """`code` or `system|code` tokens on the Coding(s) at `path` (the system only when every value
    names one: mixing both would need an `$or`)."""
    tokens = [value.rpartition("|") for value in values]
    condition: dict[str, Any] = {f"{path}.code": {"$in": [code for _system, _sep, code in tokens]}}
    if all(sep for _system, sep, _code in tokens):
        condition[f"{path}.system"] = {"$in": [system for system, _sep, _code in tokens]}
    return condition


def _condition(kind: str, values: list[str]) -> dict[str, Any]:
    """One filter as top-level path conditions (the agent's three paths are handled by the caller)."""
    if kind == "entity":  # the resource itself, or any version of it a write recorded
        versions = [re.compile(f"^{re.escape(value)}/_history/") for value in values]
        return {"event.entity.what.reference": {"$in": [*values, *versions]}}
    if kind == "request-id":  # only the request entity (BALP's transaction) has an identifier there
        return {"event.entity.what.identifier.value": {"$in": values}}
    if kind in ("type", "subtype"):
        return _codes(f"event.{kind}", values)
    return {f"event.{kind}": {"$in": values}}  # action, outcome


def _add(query: dict[str, Any], condition: dict[str, Any]) -> None:
    """AND `condition` into `query`, under `$and` only where its path is taken already."""
    for path, test in condition.items():
        if path not in query:
            query[path] = test
        elif path == "recorded" and not query[path].keys() & test.keys():
            query[path] = {**query[path], **test}
        else:
            query.setdefault("$and", []).append({path: test})


@dataclass
class AuditSearch:
    """The filters of an audit log search. Every entry of `filters` narrows (AND); the values of one
    entry are alternatives (OR), as a repeated and a comma-separated FHIR search parameter."""

    filters: list[tuple[str, list[str]]] = field(default_factory=list)
    """(kind, values): agent, entity, type, subtype, action, outcome or request-id."""
    recorded: list[tuple[str, datetime]] = field(default_factory=list)
    """("$gte" | "$gt" | "$lt" | "$lte", moment) conditions on `recorded`."""

    def queries(self, until: datetime | None = None) -> list[dict[str, Any]]:
        """MongoDB filters whose union is the result (one per choice of agent path); with `until`,
        only records at or before it."""
        common: dict[str, Any] = {"rejected": {"$exists": False}}  # rows the sealer found forged are not events
        for op, moment in self.recorded:
            _add(common, {"recorded": {op: moment}})
        if until is not None:
            _add(common, {"recorded": {"$lte": until}})
        agents = []
        for kind, values in self.filters:
            if kind == "agent":
                agents.append([{path: {"$in": values}} for path in _AGENT_PATHS])
            else:
                _add(common, _condition(kind, values))
        queries = []
        for choice in itertools.product(*agents):
            query = {path: list(test) if path == "$and" else test for path, test in common.items()}
            for condition in choice:
                _add(query, condition)
            queries.append(query)
        return queries


def _hint(query: dict[str, Any]) -> str:
    return next((name for path, name in SEARCH_INDEXES.items() if path in query), "recorded_id")


def _position(cursor: str) -> tuple[datetime, ObjectId]:
    """The last record of the previous page, from its cursor `<recorded ms>.<record id>`."""
    millis, _sep, record_id = cursor.partition(".")
    try:
        return datetime.fromtimestamp(int(millis) / 1000, UTC), ObjectId(record_id)
    except (ValueError, InvalidId, OverflowError) as exc:
        raise InvalidRequest(_("The page cursor is not valid."), expression="_cursor") from exc


def _cursor(record: dict[str, Any]) -> str:
    return f"{round(aware(record['recorded']).timestamp() * 1000)}.{record['_id']}"


async def search_records(
    records: AsyncCollection[dict[str, Any]], criteria: AuditSearch, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of events matching `criteria`, newest first, and the next page's cursor (or None)."""
    after = _position(cursor) if cursor is not None else None
    found: dict[ObjectId, dict[str, Any]] = {}
    for query in criteria.queries(after[0] if after else None):
        taken = 0
        rows = records.find(query, {"event": 1, "recorded": 1}).sort(PAGE_ORDER).hint(_hint(query))
        try:
            async for record in rows.batch_size(limit + 2):
                if after is not None and aware(record["recorded"]) == after[0] and record["_id"] >= after[1]:
                    continue  # shown on an earlier page: same millisecond, not older in id order
                found[record["_id"]] = record
                taken += 1
                if taken > limit:
                    break
        finally:
            await rows.close()
    page = sorted(found.values(), key=lambda r: (aware(r["recorded"]), r["_id"]), reverse=True)
    following = _cursor(page[limit - 1]) if len(page) > limit else None
    return [{**record["event"], "id": str(record["_id"])} for record in page[:limit]], following
