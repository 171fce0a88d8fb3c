"""The dispensary's stock ledger: MongoDB collections `stock_ledger`, `stock_reorder_points`, `stock_alerts`.

`stock_ledger` is append-only: one entry per change of the quantity of one lot at one location. Entries
are numbered per product and location (`seq`, 1, 2, ...) and their `_id` is `product|location|seq`, so two
writers that both read entry n and both append n + 1 cannot both commit: the loser's transaction fails
with a duplicate key (a VersionConflict) and is retried from the start, reading the winner's entry.
That `_id` is the lock that keeps the on-hand race-free on every path: the write rules insert entries in
the transaction of the FHIR version that moves stock (`WriteContext.add_document`), the stock operations
in a transaction of their own (`append`). Each entry carries the balances after it: `lotBalance` (that lot
at that location) and `balance` (every lot of the product at that location), so the on-hand is the last
entry of a lot × location, read through an index, never a sum over the ledger.

`stock_reorder_points`: one document per product and location (`_id` `product|location`, `point`).
`stock_alerts`: an alert raised by the entry that took a product at a location from above its reorder
point to at or below it (`_id` the entry's), inserted in that entry's transaction; the leased alert duty
turns each `pending` one into a Flag and a Task and marks it `raised`.

Backups keep the three collections (registered below).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128

from .backup import register_state_collection
from .mongo import MongoResourceStore, mongo_errors
from .store import ResourceStore

LEDGER, REORDER_POINTS, ALERTS = "stock_ledger", "stock_reorder_points", "stock_alerts"
PENDING, RAISED = "pending", "raised"
ASCENDING, DESCENDING = 1, -1

register_state_collection(LEDGER, written_at="at")
register_state_collection(REORDER_POINTS)
register_state_collection(ALERTS, written_at="at")


def entry_id(product: str, location: str, seq: int) -> str:
    """The `_id` of the `seq`th entry of `product` at `location` (the key two racing writers collide on)."""
    return f"{product}|{location}|{seq}"


def _plain(document: Mapping[str, Any]) -> dict[str, Any]:
    """A stored document with its Decimal128 numbers back as Decimal."""
    return {k: v.to_decimal() if isinstance(v, Decimal128) else v for k, v in document.items() if k != "_id"} | {
        "id": document["_id"]
    }


class StockLedgerStore:
    """The stock ledger, reorder points and pending alerts of the server's database."""

    def __init__(self, store: MongoResourceStore) -> None:
        self._client = store.client
        database = store.client[store.database_name]
        self._ledger = database[LEDGER]
        self._points = database[REORDER_POINTS]
        self._alerts = database[ALERTS]

    @classmethod
    def of(cls, store: ResourceStore) -> StockLedgerStore:
        """The ledger next to `store` (what a write rule, given only the resource store, reaches it by)."""
        if not isinstance(store, MongoResourceStore):
            raise TypeError("the stock ledger lives next to a MongoResourceStore")
        return cls(store)

    async def ensure_indexes(self) -> None:
        """The balance, history and recall indexes; creates the collections the write transactions insert into."""
        async with mongo_errors(LEDGER):
            await self._ledger.create_index(
                [("product", ASCENDING), ("location", ASCENDING), ("seq", DESCENDING)], name="product_location"
            )
            await self._ledger.create_index(
                [("lot", ASCENDING), ("location", ASCENDING), ("seq", DESCENDING)], name="lot_location"
            )
            await self._ledger.create_index([("at", DESCENDING)], name="at")
            await self._ledger.create_index([("lot", ASCENDING), ("patient", ASCENDING)], name="lot_patient")
            await self._ledger.create_index([("source", ASCENDING)], name="source")
            await self._points.create_index([("product", ASCENDING)], name="product")
            await self._alerts.create_index([("status", ASCENDING), ("at", ASCENDING)], name="status")

    async def last_of_product(self, product: str, location: str) -> dict[str, Any] | None:
        """The newest entry of `product` at `location` (its `seq` and product `balance`), None if there is none."""
        async with mongo_errors(LEDGER):
            found = await self._ledger.find_one({"product": product, "location": location}, sort=[("seq", DESCENDING)])
        return _plain(found) if found else None

    async def last_of_lot(self, lot: str, location: str) -> dict[str, Any] | None:
        """The newest entry of `lot` at `location` (its `lotBalance`), None if there is none."""
        async with mongo_errors(LEDGER):
            found = await self._ledger.find_one({"lot": lot, "location": location}, sort=[("seq", DESCENDING)])
        return _plain(found) if found else None

    async def lot_balances(self, criteria: Mapping[str, str], limit: int) -> list[dict[str, Any]]:
        """The last entry of each lot × location matching `criteria` (fields `product`, `lot`, `location`)."""
        pipeline: list[dict[str, Any]] = [
            {"$match": dict(criteria)},
            {"$sort": {"lot": ASCENDING, "location": ASCENDING, "seq": DESCENDING}},
            {"$group": {"_id": {"lot": "$lot", "location": "$location"}, "last": {"$first": "$$ROOT"}}},
            {"$replaceRoot": {"newRoot": "$last"}},
            {"$sort": {"product": ASCENDING, "lot": ASCENDING, "location": ASCENDING}},
            {"$limit": limit},
        ]
        async with mongo_errors(LEDGER):
            cursor = await self._ledger.aggregate(pipeline)
            return [_plain(doc) async for doc in cursor]

    async def entries(self, criteria: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
        """Ledger entries matching `criteria`, newest first."""
        async with mongo_errors(LEDGER):
            cursor = self._ledger.find(dict(criteria)).sort([("at", DESCENDING), ("seq", DESCENDING)]).limit(limit)
            return [_plain(doc) async for doc in cursor]

    async def total(self, criteria: Mapping[str, Any]) -> Decimal:
        """The sum of the quantities of the entries matching `criteria` (what the balances must equal)."""
        pipeline = [{"$match": dict(criteria)}, {"$group": {"_id": None, "sum": {"$sum": "$quantity"}}}]
        async with mongo_errors(LEDGER):
            cursor = await self._ledger.aggregate(pipeline)
            found = [doc async for doc in cursor]
        value = found[0]["sum"] if found else Decimal(0)
        return value.to_decimal() if isinstance(value, Decimal128) else Decimal(value)

    async def append(self, entries: Sequence[Mapping[str, Any]], alerts: Sequence[Mapping[str, Any]]) -> None:
        """Insert `entries` (and the alerts they raise) in one transaction; VersionConflict when another
        writer appended an entry with the same `_id` first (read the balances again and retry)."""
        async with mongo_errors(LEDGER), self._client.start_session() as session:  # noqa: SIM117 - needs `session`
            async with await session.start_transaction():
                await self._ledger.insert_many([dict(entry) for entry in entries], session=session)
                if alerts:
                    await self._alerts.insert_many([dict(alert) for alert in alerts], session=session)

    async def reorder_point(self, product: str, location: str) -> Decimal | None:
        async with mongo_errors(REORDER_POINTS):
            found = await self._points.find_one({"_id": f"{product}|{location}"})
        return None if found is None else _plain(found)["point"]

    async def set_reorder_point(self, product: str, location: str, point: Decimal | None) -> None:
        """Set (or, with None, remove) the reorder point of `product` at `location`."""
        async with mongo_errors(REORDER_POINTS):
            if point is None:
                await self._points.delete_one({"_id": f"{product}|{location}"})
                return
            await self._points.replace_one(
                {"_id": f"{product}|{location}"},
                {"product": product, "location": location, "point": point},
                upsert=True,
            )

    async def reorder_points_of(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
        """The reorder points of these (product, location) pairs that have one."""
        keys = sorted({f"{product}|{location}" for product, location in pairs})
        if not keys:
            return {}
        async with mongo_errors(REORDER_POINTS):
            found = [_plain(doc) async for doc in self._points.find({"_id": {"$in": keys}})]
        return {(doc["product"], doc["location"]): doc["point"] for doc in found}

    async def pending_alerts(self, limit: int) -> list[dict[str, Any]]:
        async with mongo_errors(ALERTS):
            cursor = self._alerts.find({"status": PENDING}).sort("at", ASCENDING).limit(limit)
            return [_plain(doc) async for doc in cursor]

    async def mark_raised(self, alert_id: str, at: datetime, email: Mapping[str, str] | None) -> None:
        """Mark a low-stock alert raised, keeping the email built for it (None: none)."""
        async with mongo_errors(ALERTS):
            await self._alerts.update_one(
                {"_id": alert_id}, {"$set": {"status": RAISED, "raisedAt": at, "email": email}}
            )

    async def record_report(self, report: str, at: datetime, email: Mapping[str, str] | None) -> None:
        """Record the daily expiry report `report` (its Task id) as a raised alert with its email."""
        async with mongo_errors(ALERTS):
            await self._alerts.replace_one(
                {"_id": report},
                {"kind": "expiry", "status": RAISED, "at": at, "raisedAt": at, "email": email},
                upsert=True,
            )

    async def alerts(self, limit: int) -> list[dict[str, Any]]:
        """Alerts newest first."""
        async with mongo_errors(ALERTS):
            return [_plain(doc) async for doc in self._alerts.find({}).sort("at", DESCENDING).limit(limit)]
