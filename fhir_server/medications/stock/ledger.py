"""Posting to the stock ledger: the entries (and reorder alerts) that record some changes of stock.

`post` reads the last entry of each product × location and lot × location touched, numbers the new
entries after them and computes the balances after each; a lot that would go below zero is refused
(InsufficientStock, 409). The entries are then inserted by the caller in its own transaction: the write
rules (rules.py) in the FHIR version's, the stock operations with `append_changes`. Either way a writer
that read stale balances collides on the `_id` of the entry it numbers (storage/stock_ledger.py) and
starts again, so the on-hand never goes negative and always equals the sum of the ledger.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...engine.identity import now
from ...errors import StorageUnavailable, VersionConflict
from ...i18n import _
from ...storage.stock_ledger import PENDING, StockLedgerStore, entry_id

_ATTEMPTS = 200


class InsufficientStock(VersionConflict):
    """A lot at a location holds less than a movement takes out (409, not retried)."""


@dataclass(frozen=True)
class Change:
    """One change of the quantity of `lot` (of `product`) at `location`; `quantity` is signed."""

    product: str
    lot: str
    location: str
    quantity: Decimal
    kind: str
    expression: str | None = None
    """The element a refusal names (the quantity's FHIRPath or the operation parameter)."""
    source: str | None = None
    patient: str | None = None
    prescription: str | None = None
    reason: str | None = None
    counterpart: str | None = None
    """The other location of a transfer."""
    by: str | None = None


async def post(
    ledger: StockLedgerStore, changes: Sequence[Change], at: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ledger entries recording `changes` in order, and the reorder alerts they raise."""
    entries: list[dict[str, Any]] = []
    last: dict[tuple[str, str], tuple[int, Decimal]] = {}
    first_balance: dict[tuple[str, str], Decimal] = {}
    lots: dict[tuple[str, str], Decimal] = {}
    for change in changes:
        key, lot_key = (change.product, change.location), (change.lot, change.location)
        if key not in last:
            found = await ledger.last_of_product(*key)
            last[key] = (found["seq"], found["balance"]) if found else (0, Decimal(0))
            first_balance[key] = last[key][1]
        if lot_key not in lots:
            found = await ledger.last_of_lot(*lot_key)
            lots[lot_key] = found["lotBalance"] if found else Decimal(0)
        lot_balance = lots[lot_key] + change.quantity
        if lot_balance < 0:
            raise InsufficientStock(
                _("Only {available} of {lot} are on hand at {location}; {wanted} cannot be taken.").format(
                    available=lots[lot_key], lot=change.lot, location=change.location, wanted=-change.quantity
                ),
                expression=change.expression,
            )
        seq, balance = last[key][0] + 1, last[key][1] + change.quantity
        last[key], lots[lot_key] = (seq, balance), lot_balance
        entries.append(_entry(change, seq, lot_balance, balance, at))
    alerts = [alert for key in last if (alert := await _crossing(ledger, key, first_balance[key], last[key], at))]
    return entries, alerts


def _entry(change: Change, seq: int, lot_balance: Decimal, balance: Decimal, at: datetime) -> dict[str, Any]:
    optional = {
        "source": change.source, "patient": change.patient, "prescription": change.prescription,
        "reason": change.reason, "counterpart": change.counterpart, "by": change.by,
    }  # fmt: skip
    return {
        "_id": entry_id(change.product, change.location, seq),
        "product": change.product,
        "lot": change.lot,
        "location": change.location,
        "seq": seq,
        "kind": change.kind,
        "quantity": change.quantity,
        "lotBalance": lot_balance,
        "balance": balance,
        "at": at,
        **{name: value for name, value in optional.items() if value is not None},
    }


async def _crossing(
    ledger: StockLedgerStore, key: tuple[str, str], before: Decimal, after: tuple[int, Decimal], at: datetime
) -> dict[str, Any] | None:
    """The alert of a product × location going from above its reorder point to at or below it, if it did."""
    point = await ledger.reorder_point(*key)
    seq, balance = after
    if point is None or not before > point >= balance:
        return None
    product, location = key
    return {
        "_id": entry_id(product, location, seq),
        "kind": "low-stock",
        "product": product,
        "location": location,
        "point": point,
        "balance": balance,
        "at": at,
        "status": PENDING,
    }


async def append_changes(ledger: StockLedgerStore, changes: Sequence[Change]) -> list[dict[str, Any]]:
    """Post `changes` in a transaction of their own (the stock operations), again after each lost race."""
    for attempt in range(_ATTEMPTS):
        entries, alerts = await post(ledger, changes, now())
        try:
            await ledger.append(entries, alerts)
        except VersionConflict:
            await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))
            continue
        return entries
    raise StorageUnavailable(_("The stock is being changed by too many requests at once; try again."))
