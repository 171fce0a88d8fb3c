"""Checking the audit log: every record as the server wrote it, every link, the head, and an exported anchor.

Sealing goes on while a check runs, so the head is read before and after the walk: the chain may
end anywhere between the two heads (every link is checked anyway), not before the first (records
were removed) nor after the second (records were added outside the sealer). An anchor, kept
somewhere the database's users cannot write, catches what the database alone cannot: records
removed from the end together with an older copy of the head put back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..i18n import _
from .audit_seal import GENESIS, PACKS, SIGNED, AuditKey, AuditUncheckable, link_ok, mac_ok, matches


@dataclass
class ChainReport:
    """What a check found: counts, the head, and every problem (records named by sequence number and id)."""

    sealed: int = 0
    events: int = 0
    """The events in the sealed records (a pack holds several)."""
    unsealed: int = 0
    legacy: int = 0
    """Sealed records of version 1 (before keys): their `recorded` time and authorship are not covered."""
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def _refusal_text(code: str) -> str:
    """What a refusal code the sealer stores (`rejected`) means."""
    if code == "mac":
        return _("its MAC does not match")
    if code == "no-mac":
        return _("it has no MAC")
    return _("it is not a record")


def refusal(key: AuditKey, record: Mapping[str, Any], keyed: bool) -> str | None:
    """Why an unsealed record cannot have been written by the server (`mac`, `no-mac`, `malformed`); None if it can.

    A record without a version was written before keys existed: acceptable until the chain has a keyed part.
    """
    if record.get("v") in SIGNED:
        return None if mac_ok(key, record) else "mac"
    if "v" in record or not isinstance(record.get("event"), dict):
        return "malformed"
    return "no-mac" if keyed else None


def unsealed_problem(key: AuditKey, record: Mapping[str, Any], keyed: bool) -> str | None:
    """The problem with a record that is not (yet) in the chain, or None for one the server wrote."""
    marked = record.get("rejected") is not None  # by the sealer; an unkeyed record is never admitted then
    found = refusal(key, record, keyed or marked)
    if found is None:
        if not marked:
            return None
        return _(
            "record {id} was written by the server but marked as refused outside it: it is kept out of the chain"
        ).format(id=record.get("_id"))
    if marked:
        return _("record {id} was not written by the server and was left out of the chain: {reason}").format(
            id=record.get("_id"), reason=_refusal_text(found)
        )
    return _("record {id}, not sealed yet, was not written by the server: {reason}").format(
        id=record.get("_id"), reason=_refusal_text(found)
    )


def read_anchor(key: AuditKey, raw: bytes, database: str) -> dict[str, Any]:
    """The anchor in `raw` (from `MongoAuditLog.anchor`), checked; AuditUncheckable when it cannot be used."""
    try:
        anchor = orjson.loads(raw)
        valid = all(isinstance(anchor.get(name), str) for name in ("database", "hash", "at", "kid", "mac"))
        valid = valid and type(anchor.get("seq")) is int and anchor["seq"] >= 0
    except (orjson.JSONDecodeError, AttributeError):
        valid = False
    if not valid:
        raise AuditUncheckable(_("the anchor file is not an audit anchor"))
    if anchor["kid"] != key.kid or not matches(key.anchor_mac(anchor), anchor["mac"]):
        raise AuditUncheckable(_("the anchor was not made with this audit key (its MAC does not match)"))
    if anchor["database"] != database:
        raise AuditUncheckable(
            _("the anchor is of database {found}, not {database}").format(found=anchor["database"], database=database)
        )
    return dict(anchor)


def head_problem(key: AuditKey, head: Mapping[str, Any], keyed: bool) -> str | None:
    """The problem with a chain head: changed outside the server. Only the head of a chain without keyed
    records (`keyed`, or the head's own `keyedFrom`) may lack a MAC: one of version 1."""
    if "mac" not in head:
        if not keyed and head.get("keyedFrom") is None:
            return None
    elif matches(key.head_mac(head), head["mac"]):
        return None
    return _("the chain head (record {seq}) was changed outside the server: its MAC does not match").format(
        seq=head.get("seq")
    )


def wrong_key(key: AuditKey, head: Mapping[str, Any]) -> str | None:
    """Why this key cannot check or extend the chain under `head` (another key sealed it), or None."""
    kid = head.get("kid")
    if kid is None or kid == key.kid:
        return None
    return _("the audit log was sealed with another key (id {found}); this key's id is {kid}").format(
        found=kid, kid=key.kid
    )


class ChainWalk:
    """The sealed records, taken in sequence order, each checked against the one before it."""

    def __init__(self, key: AuditKey, report: ChainReport, anchor: Mapping[str, Any] | None) -> None:
        self._key, self._report, self._anchor = key, report, anchor
        self._expected, self._prev = 1, GENESIS
        self._keyed_from: int | None = None
        """The sequence number of the first keyed record (version 2 or 3) met."""
        self.vouched = 0
        """Keyed records whose MAC matched: proof that this key sealed the log, whatever its head says."""

    def _problem(self, message: str, **values: object) -> None:
        self._report.problems.append(message.format(**values))

    def take(self, record: Mapping[str, Any]) -> None:
        seq, rid = record.get("seq"), record.get("_id")
        if type(seq) is not int:
            self._problem(_("record {id} is not a sealed record: it was inserted outside the server"), id=rid)
            return
        if seq > self._expected:
            self._problem(_("records {first}..{last} are missing"), first=self._expected, last=seq - 1)
        elif seq < self._expected:
            self._problem(_("record {seq} appears twice"), seq=seq)
        if record.get("prev") != self._prev:
            self._problem(_("record {seq} does not follow the record before it"), seq=seq)
        self._check_record(seq, rid, record)
        if self._anchor is not None and seq == self._anchor["seq"] and record.get("hash") != self._anchor["hash"]:
            self._problem(
                _("record {seq} differs from the anchor taken at {at}: the chain was rewritten up to it"),
                seq=seq, at=self._anchor["at"],
            )  # fmt: skip
        self._prev, self._expected = str(record.get("hash", "")), seq + 1
        self._report.sealed += 1
        times = record.get("times")
        self._report.events += len(times) if record.get("v") in PACKS and isinstance(times, list) else 1

    def _check_record(self, seq: int, rid: object, record: Mapping[str, Any]) -> None:
        version = record.get("v")
        if version in SIGNED:
            self._keyed_from = self._keyed_from or seq
            if not mac_ok(self._key, record):
                self._problem(
                    _("record {seq} (id {id}) was changed or written outside the server: its MAC does not match"),
                    seq=seq, id=rid,
                )  # fmt: skip
                return
            self.vouched += 1
        elif "v" in record:
            self._problem(_("record {id} is not a sealed record: it was inserted outside the server"), id=rid)
            return
        else:
            self._report.legacy += 1
            if self._keyed_from is not None:
                self._problem(
                    _("record {seq} (id {id}) is sealed without a key after keyed records: written outside the server"),
                    seq=seq, id=rid,
                )  # fmt: skip
        if not link_ok(self._key, record):
            self._problem(_("record {seq} (id {id}) was changed after it was sealed"), seq=seq, id=rid)

    def finish(self, first: Mapping[str, Any], last: Mapping[str, Any]) -> None:
        """Check where the walk ended against the heads read before and after it, and the anchor."""
        end = self._expected - 1
        if end < first["seq"]:
            self._problem(
                _("the chain ends at record {end} but its head says {seq}: records were removed"),
                end=end, seq=first["seq"],
            )  # fmt: skip
        elif end > last["seq"]:
            self._problem(_("records after {seq} were added outside the sealer"), seq=last["seq"])
        elif any(end == head["seq"] and self._prev != head["hash"] for head in (first, last)):
            self._problem(_("the last record {seq} does not match the chain head"), seq=end)
        heads = [first, last] if first.get("mac") != last.get("mac") else [last]
        for head in heads:
            if (problem := head_problem(self._key, head, head is last and self._keyed_from is not None)) is not None:
                self._report.problems.append(problem)
        self._check_keyed_part(end, last)
        if self._anchor is not None and end < self._anchor["seq"]:
            self._problem(
                _("the chain ends at record {end}, before record {seq} of the anchor of {at}: records were removed"),
                end=end, seq=self._anchor["seq"], at=self._anchor["at"],
            )  # fmt: skip

    def _check_keyed_part(self, end: int, last: Mapping[str, Any]) -> None:
        """The keyed part must begin where the (MAC-covered) head says, so it cannot be dropped or made unkeyed."""
        said, walked = last.get("keyedFrom"), self._keyed_from
        if (walked is not None and said != walked) or (walked is None and type(said) is int and said <= end):
            self._problem(
                _("the keyed part of the chain does not begin where its head says (record {seq})"),
                seq=said if said is not None else walked,
            )  # fmt: skip
