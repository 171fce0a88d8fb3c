"""The billing ledger: MongoDB collection `billing_ledger`, one document per posting line.

Every change to what a patient or a payer owes (a charge, a payment, an adjustment, a transfer of
responsibility from the payer to the patient) is an entry here, inserted by the billing write rules
(fhir_server/billing/accounts/rules.py) in the database transaction of the resource version that
causes it, so an entry exists exactly when its ChargeItem, ClaimResponse or PaymentReconciliation
version does. Entries are only ever inserted: a changed or cancelled ChargeItem adds reversing
entries. Amounts are kept as their decimal text (exact, never a binary float).

`_id` is `<source>/<version>/<line>`, so a write retried after a lost race inserts the same ids.
Backups keep the collection (a restore does not run the rules that would rebuild it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from .backup import register_state_collection
from .mongo import MongoResourceStore, mongo_errors
from .store import ResourceStore

COLLECTION = "billing_ledger"
ASCENDING = 1

register_state_collection(COLLECTION, written_at="created")


@dataclass(frozen=True)
class LedgerEntry:
    """One posting line: `amount` (signed: positive is owed) owed by `party` on `account`."""

    account: str
    party: str
    """Who owes it: "Organization/<payer>" or "Patient/<id>" (self-pay, patient responsibility)."""
    kind: str
    """charge | payment | adjustment | transfer"""
    amount: Decimal
    currency: str
    date: str
    """The day it counts from (service day of a charge, day of a payment), YYYY-MM-DD."""
    source: str
    """The resource version's reference ("ChargeItem/7") that posted it."""
    patient: str | None = None
    codes: tuple[str, ...] = ()
    """CARC (as `group-reason`, e.g. CO-45) and RARC codes of an adjustment or transfer."""

    def document(self, entry_id: str, created: datetime) -> dict[str, Any]:
        return {
            "_id": entry_id, "account": self.account, "party": self.party, "kind": self.kind,
            "amount": str(self.amount), "currency": self.currency, "date": self.date, "source": self.source,
            "patient": self.patient, "codes": list(self.codes), "created": created,
        }  # fmt: skip

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> LedgerEntry:
        return cls(
            account=doc["account"], party=doc["party"], kind=doc["kind"], amount=Decimal(doc["amount"]),
            currency=doc["currency"], date=doc["date"], source=doc["source"], patient=doc.get("patient"),
            codes=tuple(doc.get("codes", ())),
        )  # fmt: skip


class LedgerStore:
    """The `billing_ledger` collection of the server's database (reads; inserts come with the writes)."""

    def __init__(self, store: MongoResourceStore) -> None:
        self._entries = store.client[store.database_name][COLLECTION]

    async def ensure_indexes(self) -> None:
        """Per-account, per-patient and per-source listing; safe at every start (and creates the collection, which the
        write transactions then insert into)."""
        async with mongo_errors(COLLECTION):
            await self._entries.create_index([("account", ASCENDING), ("date", ASCENDING)], name="account")
            await self._entries.create_index([("patient", ASCENDING), ("date", ASCENDING)], name="patient")
            await self._entries.create_index([("source", ASCENDING)], name="source")

    async def of_accounts(self, accounts: list[str]) -> list[LedgerEntry]:
        """Every entry of these accounts ("Account/<id>"), oldest day first."""
        return await self._find({"account": {"$in": accounts}})

    async def currency_of(self, account: str) -> str | None:
        """The currency an account is kept in (that of its first entry), None while it has none."""
        async with mongo_errors(COLLECTION):
            doc = await self._entries.find_one({"account": account}, {"currency": 1})
        return str(doc["currency"]) if doc else None

    async def accounts_of(self, patients: list[str]) -> dict[str, set[str]]:
        """The accounts each patient ("Patient/<id>") has ledger entries on."""
        found: dict[str, set[str]] = {patient: set() for patient in patients}
        async with mongo_errors(COLLECTION):
            for patient in patients:
                found[patient] = set(await self._entries.distinct("account", {"patient": patient}))
        return found

    async def of_source(self, source: str) -> list[LedgerEntry]:
        """Every entry posted by the versions of one resource ("ChargeItem/<id>")."""
        return await self._find({"source": source})

    async def of_patient(self, patient: str) -> list[LedgerEntry]:
        """Every entry of one patient's accounts, oldest day first."""
        return await self._find({"patient": patient})

    async def all(self) -> list[LedgerEntry]:
        """The whole ledger, oldest day first (A/R aging of the practice)."""
        return await self._find({})

    async def _find(self, query: dict[str, Any]) -> list[LedgerEntry]:
        async with mongo_errors(COLLECTION):
            cursor = self._entries.find(query).sort([("date", ASCENDING), ("_id", ASCENDING)])
            return [LedgerEntry.from_doc(doc) async for doc in cursor]


def ledger_of(store: ResourceStore) -> LedgerStore:
    """The ledger next to `store` (the server's resource store)."""
    if not isinstance(store, MongoResourceStore):
        raise TypeError("the billing ledger lives in a MongoDB resource store")
    return LedgerStore(store)
