"""What makes an audit record the server's own: HMACs under a key that only the server's processes hold.

Version 2 (`v: 2`): the process that writes a record computes
`mac = HMAC-SHA256(key, v, _id, recorded, event)` before inserting it, and the sealer chains it
with `hash = HMAC-SHA256(key, prev, seq, mac)`; the chain head carries
`mac = HMAC-SHA256(key, seq, hash, keyedFrom, kid)`. Every field of a stored record is covered,
the `recorded` time that searches and pages use included. Someone who can write the database but
not read the key can neither add a record, nor rechain the log after removing one, nor move the
head: nothing they write verifies.

Version 3 (`v: 3`), a pack: the events one process queued in a short span (reads, searches,
refusals), stored as one record whose `event` is the list of events and `times` their recorded
times; `recorded` is the newest of them. Its MAC covers `times` as well, and it is chained as one
record, like version 2. One document and one set of index entries per pack instead of per event.
The sealer packs single records (a write's events) too; such a pack lists in `ids` the ids the
events had as records, so each keeps its id, and its MAC covers `ids`.
Version 4 (`v: 4`), a compressed pack, is what the server writes now: a pack whose events are one
compressed value (`events`) and whose `event` is their summary for searches (audit_pack.py). Its
MAC covers the summary and the SHA-256 of the compressed events, with the rest as in version 3.

Version 1 (records without `v`, sealed before keys existed): `hash = sha256(prev, seq, event)`.
It still verifies, but covers neither `recorded` nor who wrote the record; no version 1 record may
follow a version 2 one.

Each digest is taken over `[purpose, content]` as sorted JSON, so a digest of one kind never
stands in for another.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

KEYED = 2
"""The version of records sealed under a key."""
PACKED = 3
"""The version of packs written before 4: several events in one record, as a list, sealed under a key."""
COMPRESSED = 4
"""The version of packs: several events in one record, compressed, with a summary for searches."""
PACKS = (PACKED, COMPRESSED)
SIGNED = (KEYED, PACKED, COMPRESSED)
"""The versions whose records carry a MAC."""
GENESIS = "0" * 64
"""The `prev` of the first record."""


def millis(moment: datetime) -> int:
    """`moment` as whole milliseconds since 1970 UTC, as BSON stores it (naive means UTC)."""
    return calendar.timegm(moment.utctimetuple()) * 1000 + moment.microsecond // 1000


def legacy_link(prev: str, seq: int, event: Mapping[str, Any]) -> str:
    """The link of a version 1 record: the previous link, its position and the event, unkeyed."""
    canonical = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{prev}:{seq}:".encode() + canonical).hexdigest()


@dataclass(frozen=True, repr=False)
class AuditKey:
    """The secret the server's processes share to seal the audit log (never stored in the database)."""

    secret: bytes

    @property
    def kid(self) -> str:
        """A short public name of the key, kept in the chain head and in anchors to tell keys apart."""
        return hashlib.sha256(b"fhir-audit-key-id:" + self.secret).hexdigest()[:16]

    def _digest(self, purpose: str, content: object) -> str:
        message = orjson.dumps([purpose, content], option=orjson.OPT_SORT_KEYS)
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def record_mac(self, record: Mapping[str, Any]) -> str:
        """The MAC of a version 2, 3 or 4 record as stored: its id, version, `recorded` time(s) and event(s)
        (in version 4, the summary and the digest of the compressed events)."""
        content: dict[str, Any] = {"id": str(record["_id"]), "v": record["v"], "recorded": millis(record["recorded"])}
        if record["v"] in PACKS:
            content["times"] = [millis(moment) for moment in record["times"]]
            if "ids" in record:
                content["ids"] = [str(rid) for rid in record["ids"]]
        if record["v"] == COMPRESSED:
            content["events"] = hashlib.sha256(record["events"]).hexdigest()
        return self._digest("record", {**content, "event": record["event"]})

    def link(self, prev: str, seq: int, mac: str) -> str:
        """The chain link of version 2 record `seq`: the link before it and the record's own MAC."""
        return self._digest("link", [prev, seq, mac])

    def head_mac(self, head: Mapping[str, Any]) -> str:
        """The MAC of the chain head: where the chain ends, where its keyed part begins, and under which key."""
        return self._digest("head", [head["seq"], head["hash"], head.get("keyedFrom"), head.get("kid")])

    def anchor_mac(self, anchor: Mapping[str, Any]) -> str:
        """The MAC of an exported chain head (every field of `anchor` but `mac`)."""
        return self._digest("anchor", {k: v for k, v in anchor.items() if k != "mac"})


def matches(expected: str, found: object) -> bool:
    """Whether `found` is the digest `expected` (compared in constant time)."""
    return isinstance(found, str) and hmac.compare_digest(expected, found)


def mac_ok(key: AuditKey, record: Mapping[str, Any]) -> bool:
    """Whether a version 2 or 3 record is as the server wrote it (False for any malformed row, never an error)."""
    try:
        return matches(key.record_mac(record), record.get("mac"))
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def link_ok(key: AuditKey, record: Mapping[str, Any]) -> bool:
    """Whether a sealed record's `hash` is its link (keyed when `v` says so, else version 1)."""
    try:
        if record.get("v") in SIGNED:
            expected = key.link(record["prev"], record["seq"], record["mac"])
        else:
            expected = legacy_link(record["prev"], record["seq"], record["event"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return matches(expected, record.get("hash"))


class AuditUncheckable(Exception):
    """The log cannot be checked or exported as asked: another key sealed it, or the anchor is not valid."""
