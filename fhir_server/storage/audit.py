"""The audit log in MongoDB: append-only AuditEvents, sealed into one hash chain under the server's key.

Appending never waits for other writers: the writing process makes each record with its MAC
(`record`) and inserts it, unsealed, into the inbox (`audit_inbox`, inside the data change's
transaction when it audits a write). Events queued by a process (reads, searches, refusals:
audit/queue.py) are stored as packs (`packs`): one record holding a short span's events,
compressed, with a summary of them for searches (audit_pack.py), so one small document and one
set of index entries stand for many events; the process holding the sealing lease
inserts its packs into the log already chained (`append_sealed`).
A sealer, one at a time under a lease, moves what waits in the inbox into the log (`audit`),
chained, in one transaction with the chain head: runs of single records and of the packs a group
commit made of its writes' records (`combined`) as few packs that keep each event's id, other packs
as they are; a record whose MAC does not match (inserted into the database directly) is moved
unchained and marked `rejected`. Sealing used to update each record in place;
on the embedded database that update cost three times the record's insert, and after a large
ingest the sealer fell behind by half a minute. Inserting into an inbox with only the `_id` index,
deleting from it and inserting one pack per few hundred events costs a fraction of that.
Searches read the inbox and the log. The digests are in audit_seal.py, the checks of `verify` in
audit_verify.py, the searches in audit_search.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError, OperationFailure

from .audit_pack import packed, summary, unpacked
from .audit_seal import COMPRESSED, GENESIS, KEYED, SIGNED, AuditKey, AuditUncheckable, legacy_link
from .audit_search import PACK_SPAN, PAGE_ORDER, SEARCH_INDEXES, AuditSearch, search_records
from .audit_verify import ChainReport, ChainWalk, head_problem, refusal, unsealed_problem, wrong_key
from .leases import Leases
from .mongo import mongo_errors

log = logging.getLogger(__name__)

_HEAD = "head"
_LEASE = timedelta(seconds=30)
_PACK_MOST = 500
"""Events in one pack at most (a pack stays far below the 16 MiB document limit)."""
AUDIT_COLLECTION = "audit"
AUDIT_INBOX = "audit_inbox"
"""Records waiting for the sealer; only the `_id` index, so a write's event costs its transaction little."""

__all__ = ["AUDIT_COLLECTION", "AUDIT_INBOX", "GENESIS", "AuditKey", "ChainReport", "MongoAuditLog"]


_UNSEALED = {"seq": None, "rejected": {"$exists": False}}
"""Records of the log not chained yet (nor left out of the chain): versions before the inbox left them there."""

Entry = tuple[dict[str, Any], datetime]
"""An event and when it was recorded."""

KeptEvent = tuple[dict[str, Any], datetime, ObjectId]
"""An event, when it was recorded, and the id it keeps when repacked."""


def _single_event(record: dict[str, Any]) -> KeptEvent:
    """The event of a single record (version 2), which keeps the record's id when repacked."""
    return record["event"], record["recorded"], record["_id"]


def _kept_events(record: dict[str, Any]) -> list[KeptEvent] | None:
    """The events of a record whose events keep their ids when repacked: a single record's (its own id), a
    pack's with `ids`; None for other records (a pack without `ids` is chained as it is)."""
    if record.get("v") == KEYED:
        return [_single_event(record)]
    ids = record.get("ids")
    if record.get("v") != COMPRESSED or not isinstance(ids, list):
        return None
    return list(zip(unpacked(record["events"]), record["times"], ids, strict=True))


Grouped = TypeVar("Grouped", bound=tuple[Any, ...])


def _groups(entries: list[Grouped]) -> list[list[Grouped]]:
    """`entries` (tuples whose second item is the recorded time), in order, cut into the groups of one pack each.

    A pack spans at most PACK_SPAN (searches widen their upper time bound by that much to find a pack
    by its newest time) and holds at most _PACK_MOST events."""
    groups: list[list[Grouped]] = []
    group: list[Grouped] = []
    for entry in entries:
        recorded = entry[1]
        if not group:
            low = high = recorded
        low, high = min(low, recorded), max(high, recorded)
        if len(group) >= _PACK_MOST or high - low > PACK_SPAN:
            groups.append(group)
            group, low, high = [], recorded, recorded
        group.append(entry)
    if group:
        groups.append(group)
    return groups


class MongoAuditLog:
    """The `audit` collection and its chain head in `audit_chain`, sealed under `key`."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str, key: AuditKey) -> None:
        self._client = client
        self.database_name = database
        self._key = key
        self._records = client[database][AUDIT_COLLECTION]
        self._inbox = client[database][AUDIT_INBOX]
        self._chain = client[database]["audit_chain"]
        self._head_lease = Leases(self._chain, holder="sealer", duration=_LEASE)
        self._sealing = asyncio.Lock()
        """One chain extension at a time in this process (the lease keeps other processes out)."""
        self._refused: str | None = None
        """Why this process last refused to extend the chain (logged once, not every round)."""

    @property
    def key(self) -> AuditKey:
        return self._key

    def record(self, event: dict[str, Any], recorded: datetime) -> dict[str, Any]:
        """The stored form of one unsealed AuditEvent, with its MAC: the same whether queued or a write's."""
        made = {"_id": ObjectId(), "v": KEYED, "recorded": recorded, "seq": None, "event": event}
        made["mac"] = self._key.record_mac(made)
        return made

    def packs(self, events: list[Entry]) -> list[dict[str, Any]]:
        """The stored form of (event, recorded) pairs as unsealed packs with their MACs."""
        return [self._pack(group) for group in _groups(events)]

    def combined(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records of several writes that commit together (`LinkedDocument.combine`): the single ones as
        packs that keep each event's id, so a group commit adds one document to the inbox, not one per write."""
        singles = [_single_event(record) for record in records if record.get("v") == KEYED]
        return [*self._repacked(singles), *(record for record in records if record.get("v") != KEYED)]

    def _pack(self, group: list[Entry], ids: list[ObjectId] | None = None) -> dict[str, Any]:
        """One pack of `group`; with `ids`, the ids its events had as single records (they keep them)."""
        times = [recorded for _event, recorded in group]
        made: dict[str, Any] = {"_id": ObjectId(), "v": COMPRESSED, "recorded": max(times), "times": times, "seq": None}
        if ids is not None:
            made["ids"] = ids
        events = [event for event, _recorded in group]
        made["event"] = summary(events)
        made["events"] = packed(events)
        made["mac"] = self._key.record_mac(made)
        return made

    def _repacked(self, entries: list[KeptEvent]) -> list[dict[str, Any]]:
        """Events of checked records (`_kept_events`) as packs that keep each event's id and time."""
        return [
            self._pack([(event, recorded) for event, recorded, _id in group], [rid for _e, _r, rid in group])
            for group in _groups(entries)
        ]

    async def ensure_indexes(self) -> None:
        async with mongo_errors("audit"):
            await self._records.create_index([("seq", ASCENDING)], name="seq")
            await self._records.create_index(PAGE_ORDER, name="recorded_id")
            for path, name in SEARCH_INDEXES.items():
                await self._records.create_index([(path, ASCENDING), *PAGE_ORDER], name=name)
            if "recorded" in await self._records.index_information():
                with contextlib.suppress(OperationFailure):  # another worker may drop it first
                    await self._records.drop_index("recorded")  # the one before recorded_id; that serves it now
            await self._adopt_unsealed()

    async def _adopt_unsealed(self) -> None:
        """Move records a version before the inbox left unsealed in the log into the inbox, where the sealer looks.

        Several workers may start at once: a transaction that collides with another's move is left to it."""
        while waiting := await self._records.find(_UNSEALED).sort("_id", ASCENDING).limit(_PACK_MOST).to_list():
            try:
                async with self._client.start_session() as session, await session.start_transaction():
                    await self._inbox.insert_many(waiting, session=session)
                    await self._records.delete_many({"_id": {"$in": [r["_id"] for r in waiting]}}, session=session)
            except (OperationFailure, BulkWriteError):
                return

    async def append_many(self, records: list[dict[str, Any]]) -> None:
        """Add several stored records (see `record`) to the inbox in one insert."""
        if records:
            async with mongo_errors("audit"):
                await self._inbox.insert_many(records, ordered=False)

    async def seal(self, sealer: str, *, batch: int = 500, lease: timedelta = _LEASE) -> int:
        """Move up to `batch` records from the inbox into the log, chained, if no other sealer holds the lease;
        return how many were taken (chained, marked `rejected` when the server did not write them, or
        dropped as already in the log)."""
        async with self._sealing, mongo_errors("audit"):
            if await self._inbox.find_one({}, projection={"_id": 1}) is None:
                return 0  # nothing to seal: a read, not the lease's write
            head = await self._leased_head(sealer, lease)
            if head is None:
                return 0
            # in the inbox's own order: sorting it (even by _id) makes SecantusDB read and sort the whole inbox
            pending = await self._inbox.find().limit(batch).to_list()
            taken = [record["_id"] for record in pending]
            logged = {r["_id"] for r in await self._records.find({"_id": {"$in": taken}}, {"_id": 1}).to_list()}
            chained, refused = self._admitted(pending, logged, keyed=head.get("keyedFrom") is not None)
            links = self._chain_after(head, chained)
            moved = [*({**record, **link} for record, link in zip(chained, links, strict=True)), *refused]

            async def move(session: AsyncClientSession) -> None:
                if moved:
                    await self._records.insert_many(moved, session=session)
                await self._inbox.delete_many({"_id": {"$in": taken}}, session=session)

            done = await self._extend_chain(sealer, head, self._moved_head(head, chained, links), move)
        return len(pending) if done else 0

    def _admitted(
        self, pending: list[dict[str, Any]], logged: set[ObjectId], *, keyed: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """What of `pending` (in inbox order) joins the chain, and what is refused (marked `rejected`; a mark
        made in the inbox outside the sealer is not kept). Runs of records whose events keep their ids (single
        records, and the packs of a group commit) are repacked into as few packs as hold them: each pack is
        one document and one set of index entries in the log. Records whose id the log holds already (copied
        back into the inbox) are dropped, with a warning."""
        chained: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        run: list[KeptEvent] = []
        for record in pending:
            if record["_id"] in logged:
                log.warning("audit record %s left out of the chain: the log holds it already", record["_id"])
                continue
            why = refusal(self._key, record, keyed)
            if why is not None:
                log.warning("audit record %s left out of the chain: not the server's (%s)", record["_id"], why)
                refused.append({**record, "seq": None, "rejected": why})
            elif (kept := _kept_events(record)) is not None:
                run.extend(kept)
                keyed = True
            else:
                chained.extend(self._repacked(run))
                run = []
                chained.append({name: value for name, value in record.items() if name != "rejected"})
                keyed = keyed or record.get("v") in SIGNED
        return [*chained, *self._repacked(run)], refused

    async def append_sealed(self, records: list[dict[str, Any]], sealer: str, *, lease: timedelta = _LEASE) -> bool:
        """Insert `records` (made by `record` in this process) already chained, if `sealer` holds or gets the lease.

        One insert instead of an insert now and an update by the sealer later: on the embedded
        database the sealer's update cost about three times the insert. False, with nothing
        written, when another sealer holds the lease (append them unsealed then).
        """
        if not records:
            return True
        async with self._sealing, mongo_errors("audit"):
            head = await self._leased_head(sealer, lease)
            if head is None:
                return False
            links = self._chain_after(head, records)
            sealed = [{**record, **link} for record, link in zip(records, links, strict=True)]
            return await self._extend_chain(
                sealer, head, self._moved_head(head, records, links),
                lambda session: self._records.insert_many(sealed, session=session),
            )  # fmt: skip

    async def release(self, sealer: str) -> None:
        """Give back the chain head's lease if `sealer` holds it."""
        async with mongo_errors("audit"):
            await self._head_lease.release({"_id": _HEAD}, sealer)

    def _chain_after(self, head: Mapping[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The chain fields (seq, prev, hash) of `records`, in order, appended after `head`."""
        seq, prev = head["seq"], head["hash"]
        links = []
        for record in records:
            seq += 1
            if record.get("v") in SIGNED:
                link = self._key.link(prev, seq, record["mac"])
            else:
                link = legacy_link(prev, seq, record["event"])  # written before keys: sealed as it would have been
            links.append({"seq": seq, "prev": prev, "hash": link})
            prev = link
        return links

    def _moved_head(
        self, head: Mapping[str, Any], records: list[dict[str, Any]], links: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The head's fields once `records` are chained by `links`, with its MAC under this key."""
        last = links[-1] if links else head
        keyed = (link["seq"] for record, link in zip(records, links, strict=True) if record.get("v") in SIGNED)
        moved = {"seq": last["seq"], "hash": last["hash"], "keyedFrom": head.get("keyedFrom") or next(keyed, None)}
        moved["kid"] = self._key.kid
        return {**moved, "mac": self._key.head_mac(moved)}

    async def _leased_head(self, sealer: str, lease: timedelta) -> dict[str, Any] | None:
        """The chain head, now leased to `sealer`; None while another sealer holds the lease, or when the
        head was not sealed with this process's key (extending it would hide that; logged)."""
        moment = datetime.now(UTC)
        head = await self._head_lease.claim({"_id": _HEAD}, sealer, moment, duration=lease, rejoin=True)
        if head is not None:
            refused = wrong_key(self._key, head) or head_problem(self._key, head, keyed=False)
            if refused != self._refused:
                self._refused = refused
                if refused is not None:
                    log.error("the audit log is not sealed while this lasts: %s", refused)
            return head if refused is None else None
        if await self._chain.find_one({"_id": _HEAD}) is not None:
            return None  # another sealer holds the lease
        await self._chain.update_one(
            {"_id": _HEAD},
            {"$setOnInsert": {"seq": 0, "hash": GENESIS, "sealer": None, "leaseUntil": moment}},
            upsert=True,
        )
        return await self._leased_head(sealer, lease)

    async def _extend_chain(
        self,
        sealer: str,
        head: dict[str, Any],
        moved: dict[str, Any],
        write: Callable[[AsyncClientSession], Awaitable[object]],
    ) -> bool:
        """In one transaction: `write` the newly chained records and set the head's fields to `moved`.

        False, with nothing written, when the head moved since it was read (a lease lost meanwhile).
        """
        async with self._client.start_session() as session, await session.start_transaction():
            await write(session)
            result = await self._chain.update_one(
                {"_id": _HEAD, "sealer": sealer, "seq": head["seq"]}, {"$set": moved}, session=session
            )
            if result.matched_count != 1:
                await session.abort_transaction()
                return False
        return True

    async def verify(self, anchor: Mapping[str, Any] | None = None) -> ChainReport:
        """Check every record, link and the head; with `anchor` (see `read_anchor`), also that the chain
        still holds the head it exported. AuditUncheckable when another key sealed the log: its head
        names another key and no record's MAC matches this one (so a head edited to name another key
        is reported as changed, not taken for a log this key cannot check)."""
        report = ChainReport()
        walk = ChainWalk(self._key, report, anchor)
        async with mongo_errors("audit"):
            first = await self._head()
            keyed = first.get("keyedFrom") is not None
            for waiting in (self._inbox.find(), self._records.find({"seq": None})):
                async for record in waiting:
                    problem = unsealed_problem(self._key, record, keyed)
                    if problem is None:
                        report.unsealed += 1
                    else:
                        report.problems.append(problem)
            async for record in self._records.find({"seq": {"$ne": None}}).sort("seq", ASCENDING):
                walk.take(record)
            last = await self._head()
        if (other := wrong_key(self._key, last)) is not None and not walk.vouched:
            raise AuditUncheckable(other)
        report.head_seq, report.head_hash = last["seq"], last["hash"]
        walk.finish(first, last)
        return report

    async def anchor(self) -> dict[str, Any]:
        """The chain head as it is now, with this key's MAC, to keep somewhere else (see `verify`).

        AuditUncheckable when another key sealed the log or the head fails its own MAC."""
        async with mongo_errors("audit"):
            head = await self._head()
        refused = wrong_key(self._key, head) or head_problem(self._key, head, keyed=False)
        if refused is not None:
            raise AuditUncheckable(refused)
        made = {
            "database": self.database_name,
            "seq": head["seq"],
            "hash": head["hash"],
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "kid": self._key.kid,
        }
        return {**made, "mac": self._key.anchor_mac(made)}

    async def _head(self) -> dict[str, Any]:
        """The chain head; a malformed one reads as changed (its MAC cannot match), sequence and hash kept usable."""
        head = await self._chain.find_one({"_id": _HEAD}) or {"seq": 0, "hash": GENESIS}
        if type(head.get("seq")) is not int or not isinstance(head.get("hash"), str):
            return {**head, "seq": 0, "hash": "", "mac": "malformed"}
        return head

    async def search(
        self, criteria: AuditSearch, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the AuditEvents matching `criteria`, newest first, each with its record's id as
        `id`; and the cursor of the next page (None on the last). Raise InvalidRequest for a bad cursor."""
        async with mongo_errors("audit"):
            return await search_records([self._inbox, self._records], criteria, limit, cursor)
