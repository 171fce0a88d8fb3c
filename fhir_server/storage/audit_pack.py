"""How a pack of AuditEvents is stored: the events compressed into one value, beside a summary that searches use.

A pack (audit_seal.py, version 4) keeps its events as `events`, their JSON compressed with zlib,
and in `event` only what a search may filter on: for each searched path (`SUMMARY_PATHS`) the
distinct values its events hold there, as one list at the path's end. A search's query on
`event.<path>` reads the summary as it reads a single event (MongoDB matches a list by its items),
the search indexes cover it the same way, and the events it may match are then checked one by one
(audit_search.py `event_matches`).

Version 3 stored the list of events itself. On the embedded database inserting one cost about
50 µs of its CPU per event (a read's event is 1.5 KB of BSON that it decodes and walks for index
keys), a seventh of a read; the compressed events are about 70 bytes each and the database never
looks inside them.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from bson import Binary

SUMMARY_PATHS = (
    "entity.what.identifier.value",
    "entity.what.reference",
    "agent.who.identifier.value",
    "agent.altId",
    "agent.who.reference",
    "type.system",
    "type.code",
    "subtype.system",
    "subtype.code",
    "action",
    "outcome",
)
"""The paths under `event.` that audit searches filter on (audit_search.py), the indexed ones first."""

_LARGEST = 256 * 1024 * 1024
"""The most bytes a pack's events may unpack to: a record changed to unpack to more is not read."""


def path_values(node: Any, parts: list[str]) -> list[Any]:
    """What the dotted path `parts` reaches in `node`, through a list at any step, as MongoDB reads it."""
    values = [node]
    for part in parts:
        reached: list[Any] = []
        for value in values:
            if isinstance(value, dict) and (found := value.get(part)) is not None:
                if isinstance(found, list):
                    reached.extend(found)
                else:
                    reached.append(found)
        if not reached:
            return reached
        values = reached
    return values


_SUMMARY_PARTS = [path.split(".") for path in SUMMARY_PATHS]


def summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    """For each of SUMMARY_PATHS, the distinct values `events` hold there, nested as the path says."""
    made: dict[str, Any] = {}
    for parts in _SUMMARY_PARTS:
        found: dict[Any, None] = {}
        for event in events:
            for value in path_values(event, parts):
                if isinstance(value, str | int | float | bool):
                    found[value] = None
        if found:
            node = made
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = list(found)
    return made


def packed(events: list[dict[str, Any]]) -> Binary:
    """`events` as stored in a pack: their JSON, compressed."""
    return Binary(zlib.compress(orjson.dumps(events), 1))


def unpacked(stored: bytes) -> list[dict[str, Any]]:
    """The events of a pack's `events`; ValueError when they are not what `packed` made."""
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(stored, _LARGEST)
    except zlib.error as exc:
        raise ValueError("the packed events are not zlib data") from exc
    if inflate.unconsumed_tail:
        raise ValueError("the packed events unpack to more than the largest pack")
    events = orjson.loads(raw)
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise ValueError("the packed events are not a list of events")
    return events
