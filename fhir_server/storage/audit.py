"""The audit log in MongoDB: append-only AuditEvents, sealed into one hash chain.

Appending never waits for other writers: a record is inserted as it is (inside the data
change's transaction when it audits a write). A sealer, one at a time under a lease,
then gives the unsealed records consecutive sequence numbers and chains them:
`hash = sha256(prev_hash + seq + canonical event)`, all in one transaction with the chain
head. `verify` walks the chain and reports any record edited, removed or inserted, and a
chain cut short at its end (the head remembers the last sequence number and hash; print
the head hash somewhere else to detect a rewrite of the head itself).

`search` (audit_search.py) finds events by the stored event's own fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import OperationFailure

from .audit_search import PAGE_ORDER, SEARCH_INDEXES, AuditSearch, search_records
from .mongo import mongo_errors

_HEAD = "head"
GENESIS = "0" * 64
_LEASE = timedelta(seconds=30)
AUDIT_COLLECTION = "audit"


def audit_record(event: dict[str, Any], recorded: datetime) -> dict[str, Any]:
    """The stored form of one unsealed AuditEvent, the same whether appended here or by a write observer."""
    return {"recorded": recorded, "seq": None, "event": event}


def _chain_after(head: Mapping[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chain fields (seq, prev, hash) of `records`, in order, appended after `head`."""
    seq, prev = head["seq"], head["hash"]
    links = []
    for record in records:
        seq += 1
        link = chain_hash(prev, seq, record["event"])
        links.append({"seq": seq, "prev": prev, "hash": link})
        prev = link
    return links


def chain_hash(prev: str, seq: int, event: dict[str, Any]) -> str:
    """The link of record `seq`: covers the previous link, its position and every byte of the event."""
    canonical = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{prev}:{seq}:".encode() + canonical).hexdigest()


@dataclass
class ChainReport:
    """What `verify` found: sealed and unsealed counts, the head, and every problem by sequence number."""

    sealed: int = 0
    unsealed: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


class MongoAuditLog:
    """The `audit` collection and its chain head in `audit_chain`."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._client = client
        self.database_name = database
        self._records = client[database][AUDIT_COLLECTION]
        self._chain = client[database]["audit_chain"]
        self._sealing = asyncio.Lock()
        """One chain extension at a time in this process (the lease keeps other processes out)."""

    async def ensure_indexes(self) -> None:
        async with mongo_errors("audit"):
            await self._records.create_index([("seq", ASCENDING)], name="seq")
            await self._records.create_index(PAGE_ORDER, name="recorded_id")
            for path, name in SEARCH_INDEXES.items():
                await self._records.create_index([(path, ASCENDING), *PAGE_ORDER], name=name)
            if "recorded" in await self._records.index_information():
                with contextlib.suppress(OperationFailure):  # another worker may drop it first
                    await self._records.drop_index("recorded")  # the one before recorded_id; that serves it now

    async def append_many(self, records: list[dict[str, Any]]) -> None:
        """Add several stored records (see `audit_record`) in one insert."""
        if records:
            async with mongo_errors("audit"):
                await self._records.insert_many(records, ordered=False)

    async def seal(self, sealer: str, *, batch: int = 500, lease: timedelta = _LEASE) -> int:
        """Chain up to `batch` unsealed records if no other sealer holds the lease; return how many."""
        async with self._sealing, mongo_errors("audit"):
            head = await self._leased_head(sealer, lease)
            if head is None:
                return 0
            pending = await self._records.find({"seq": None}).sort("_id", ASCENDING).limit(batch).to_list()
            if not pending:
                return 0
            links = _chain_after(head, pending)
            updates = [
                UpdateOne({"_id": r["_id"], "seq": None}, {"$set": link})
                for r, link in zip(pending, links, strict=True)
            ]
            moved = await self._extend_chain(
                sealer, head, links[-1], lambda session: self._records.bulk_write(updates, session=session)
            )
        return len(pending) if moved else 0

    async def append_sealed(self, records: list[dict[str, Any]], sealer: str, *, lease: timedelta = _LEASE) -> bool:
        """Insert `records` (see `audit_record`) already chained, if `sealer` holds or gets the lease.

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
            links = _chain_after(head, records)
            sealed = [{**record, **link} for record, link in zip(records, links, strict=True)]
            return await self._extend_chain(
                sealer, head, links[-1], lambda session: self._records.insert_many(sealed, session=session)
            )

    async def _leased_head(self, sealer: str, lease: timedelta) -> dict[str, Any] | None:
        """The chain head, now leased to `sealer`; None while another sealer holds the lease."""
        moment = datetime.now(UTC)
        head = await self._chain.find_one_and_update(
            {"_id": _HEAD, "$or": [{"sealer": sealer}, {"leaseUntil": {"$lt": moment}}]},
            {"$set": {"sealer": sealer, "leaseUntil": moment + lease}},
            return_document=ReturnDocument.AFTER,
        )
        if head is not None:
            return head
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
        last: dict[str, Any],
        write: Callable[[AsyncClientSession], Awaitable[object]],
    ) -> bool:
        """In one transaction: `write` the newly chained records and move the head to `last`.

        False, with nothing written, when the head moved since it was read (a lease lost meanwhile).
        """
        async with self._client.start_session() as session, await session.start_transaction():
            await write(session)
            moved = await self._chain.update_one(
                {"_id": _HEAD, "sealer": sealer, "seq": head["seq"]},
                {"$set": {"seq": last["seq"], "hash": last["hash"]}},
                session=session,
            )
            if moved.matched_count != 1:
                await session.abort_transaction()
                return False
        return True

    async def verify(self) -> ChainReport:
        """Walk the chain in order and recompute every link.

        Sealing goes on while the walk runs, so the head is read before and after it: the chain may
        end anywhere between the two heads (every link is checked anyway), not before the first
        (records were removed) nor after the second (records were added outside the sealer).
        """
        report = ChainReport()
        async with mongo_errors("audit"):
            first = await self._head()
            report.unsealed = await self._records.count_documents({"seq": None})
            expected, prev = 1, GENESIS
            async for record in self._records.find({"seq": {"$ne": None}}).sort("seq", ASCENDING):
                seq = record["seq"]
                if seq != expected:
                    report.problems.append(
                        f"records {expected}..{seq - 1} are missing"
                        if seq > expected
                        else f"record {seq} appears twice"
                    )
                if record.get("prev") != prev:
                    report.problems.append(f"record {seq} does not follow the record before it")
                if chain_hash(record.get("prev", ""), seq, record["event"]) != record.get("hash"):
                    report.problems.append(f"record {seq} was changed after it was sealed")
                prev, expected = record.get("hash", ""), seq + 1
                report.sealed += 1
            last = await self._head()
        report.head_seq, report.head_hash = last["seq"], last["hash"]
        end = expected - 1
        if end < first["seq"]:
            report.problems.append(
                f"the chain ends at record {end} but its head says {first['seq']}: records were removed"
            )
        elif end > last["seq"]:
            report.problems.append(f"records after {last['seq']} were added outside the sealer")
        elif any(end == head["seq"] and prev != head["hash"] for head in (first, last)):
            report.problems.append(f"the last record {end} does not match the chain head")
        return report

    async def _head(self) -> dict[str, Any]:
        return await self._chain.find_one({"_id": _HEAD}) or {"seq": 0, "hash": GENESIS}

    async def search(
        self, criteria: AuditSearch, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the AuditEvents matching `criteria`, newest first, each with its record's id as
        `id`; and the cursor of the next page (None on the last). Raise InvalidRequest for a bad cursor."""
        async with mongo_errors("audit"):
            return await search_records(self._records, criteria, limit, cursor)
