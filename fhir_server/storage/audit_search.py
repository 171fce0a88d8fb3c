"""Searching the audit log: filters on the stored AuditEvents, newest first, paged with a cursor.

The filters read the event's own fields, never copies kept beside it, so what a search shows
is what the hash chain covers; rows the sealer refused (not written by the server) are left out.
A record holds one event or, as a pack (audit_seal.py, versions 3 and 4), several with their
times: the database finds the records that may hold a match (an index on `event.x` covers the
events of a pack, or its summary in version 4, as a multikey index) and `event_matches` keeps
the events that match, each checked on its own. A pack sorts by its newest time and spans at
most PACK_SPAN, so upper time bounds are widened by that much in the database's query, and a
page is complete once more than a page of matching events is newer than the next record read.
An event of a pack has the id `<record id>-<position>`.
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from ..errors import InvalidRequest
from ..i18n import _
from .audit_pack import path_values, unpacked
from .audit_seal import COMPRESSED, PACKS
from .mongo import aware

PAGE_ORDER = [("recorded", DESCENDING), ("_id", DESCENDING)]
PACK_SPAN = timedelta(seconds=1)
"""The longest time between the oldest and newest event of a pack."""

SEARCH_INDEXES = {
    "event.entity.what.identifier.value": "request_id",
    "event.entity.what.reference": "entity",
    "event.agent.who.identifier.value": "agent_client",
    "event.agent.altId": "agent_altid",
    "event.agent.who.reference": "agent_who",
}
"""Event path → its index (path, recorded, _id). Every request writes an event, and on the
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


_Key = tuple[datetime, ObjectId, int]
"""An event's place in the page order: recorded time, record id, position in a pack (-1 alone)."""


def _one_of(value: Any, choices: list[Any]) -> bool:
    return any(
        choice.search(value) is not None if isinstance(choice, re.Pattern) else value == choice
        for choice in choices
        if isinstance(value, str) or not isinstance(choice, re.Pattern)
    )


_COMPARE = {
    "$gte": lambda a, b: a >= b,
    "$gt": lambda a, b: a > b,
    "$lte": lambda a, b: a <= b,
    "$lt": lambda a, b: a < b,
}


def event_matches(query: dict[str, Any], event: dict[str, Any], recorded: datetime) -> bool:
    """Whether one event, recorded at `recorded`, matches `query` (from `AuditSearch.queries`) on its own.

    `rejected` is a condition on the stored record, left to the database."""
    for path, test in query.items():
        if path == "$and":
            if not all(event_matches(part, event, recorded) for part in test):
                return False
        elif path == "recorded":
            if not all(_COMPARE[op](aware(recorded), aware(moment)) for op, moment in test.items()):
                return False
        elif path != "rejected":
            choices = test["$in"] if isinstance(test, dict) else [test]  # a plain value: equal to it
            found = path_values(event, path.removeprefix("event.").split("."))
            if not any(_one_of(value, choices) for value in found):
                return False
    return True


def _stored(query: dict[str, Any]) -> dict[str, Any]:
    """`query` for the stored records: upper time bounds widened by PACK_SPAN, as packs sort by their newest."""
    widened: dict[str, Any] = {}
    for path, test in query.items():
        if path == "recorded":
            widened[path] = {op: moment + PACK_SPAN if op in ("$lt", "$lte") else moment for op, moment in test.items()}
        elif path == "$and":
            widened[path] = [_stored(part) for part in test]
        else:
            widened[path] = test
    return widened


def entries(record: dict[str, Any]) -> Iterator[tuple[_Key, dict[str, Any]]]:
    """The events of a stored record (one, or a pack's) with their places in the page order. The events
    of a pack the sealer made of single records keep those records' ids (`ids`). A pack whose events
    cannot be unpacked (changed outside the server: `verify` names it) shows none."""
    event, rid = record.get("event"), record["_id"]
    if isinstance(event, dict) and record.get("v") not in PACKS:
        yield (aware(record["recorded"]), rid, -1), event
        return
    if record.get("v") == COMPRESSED:
        try:
            event = unpacked(record["events"])
        except (KeyError, TypeError, ValueError):
            return
    if isinstance(event, list) and isinstance(times := record.get("times"), list):
        ids = record.get("ids")
        for position, (item, moment) in enumerate(zip(event, times, strict=False)):
            if isinstance(item, dict) and isinstance(moment, datetime):
                key = (aware(moment), ids[position], -1) if isinstance(ids, list) else (aware(moment), rid, position)
                yield key, item


def _position(cursor: str) -> _Key:
    """The last event of the previous page, from its cursor `<recorded ms>.<event id>`."""
    millis, _sep, event_id = cursor.partition(".")
    record_id, dash, position = event_id.partition("-")
    try:
        moment = datetime.fromtimestamp(int(millis) / 1000, UTC)
        return moment, ObjectId(record_id), int(position) if dash else -1
    except (ValueError, InvalidId, OverflowError) as exc:
        raise InvalidRequest(_("The page cursor is not valid."), expression="_cursor") from exc


def event_id(key: _Key) -> str:
    return str(key[1]) if key[2] < 0 else f"{key[1]}-{key[2]}"


def _cursor(key: _Key) -> str:
    return f"{round(key[0].timestamp() * 1000)}.{event_id(key)}"


async def search_records(
    sources: list[AsyncCollection[dict[str, Any]]], criteria: AuditSearch, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of events matching `criteria` in `sources`, newest first, and the next page's cursor (or None).

    An event keeps its id when the sealer moves it from the inbox into the log, so read the inbox
    first: one moved meanwhile is then found twice, under one key, rather than missed. Not hinted: the
    embedded database answers a hinted find by reading the whole collection (an entity's events among
    2,000 packs: 125 ms hinted, 4 ms not)."""
    after = _position(cursor) if cursor is not None else None
    found: dict[_Key, dict[str, Any]] = {}
    for records, query in itertools.product(sources, criteria.queries(after[0] if after else None)):
        newer: list[_Key] = []
        projection = {"v": 1, "event": 1, "events": 1, "recorded": 1, "times": 1, "ids": 1}
        rows = records.find(_stored(query), projection).sort(PAGE_ORDER)
        try:
            async for record in rows.batch_size(limit + 2):
                newest = aware(record["recorded"])
                if sum(1 for key in newer if key[0] > newest) > limit:
                    break  # every later record is older than a full page of this query's events
                for key, event in entries(record):
                    if after is not None and key[0] == after[0] and key[1:] >= after[1:]:
                        continue  # shown on an earlier page: same millisecond, not older in id order
                    if event_matches(query, event, key[0]):
                        found[key] = event
                        newer.append(key)
        finally:
            await rows.close()
    page = sorted(found, reverse=True)
    following = _cursor(page[limit - 1]) if len(page) > limit else None
    return [{**found[key], "id": event_id(key)} for key in page[:limit]], following
