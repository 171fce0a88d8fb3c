"""A/R aging: what is still open, by how old it is (0–30, 31–60, 61–90, over 90 days), by payer or by patient.

Per account and party, the amounts owed (charges, and patient responsibility moved from a payer) are
taken oldest first and the party's payments and adjustments settle them in that order (first in,
first out); what stays open counts from its day. Money stays exact (sums of the ledger's decimals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ...storage.billing_ledger import LedgerEntry
from .money import ZERO, total

BUCKETS = ("0-30", "31-60", "61-90", "90+")


@dataclass
class Aged:
    """Open amounts of one group (a payer, the patients' own share, or a patient) in one currency."""

    group: str
    currency: str
    buckets: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))

    @property
    def total(self) -> Decimal:
        return total(self.buckets.values())


def bucket(days: int) -> str:
    if days <= 30:
        return BUCKETS[0]
    if days <= 60:
        return BUCKETS[1]
    return BUCKETS[2] if days <= 90 else BUCKETS[3]


def _open(entries: Sequence[LedgerEntry]) -> list[tuple[LedgerEntry, Decimal]]:
    """The owed entries of one account and party with what remains of each after the credits, oldest first."""
    owed = sorted((e for e in entries if e.amount > 0), key=lambda e: e.date)
    credit = -total(e.amount for e in entries if e.amount < 0)
    remaining = []
    for entry in owed:
        settled = min(entry.amount, credit)
        credit -= settled
        if entry.amount - settled > 0:
            remaining.append((entry, entry.amount - settled))
    return remaining


def aging(entries: Sequence[LedgerEntry], as_of: date, by: str) -> list[Aged]:
    """Open amounts by age on `as_of`, grouped `by` "payer" (the party: a payer Organization or, for the
    patients' own share, "Patient") or "patient" (each patient, whoever owes)."""
    ledgers: dict[tuple[str, str], list[LedgerEntry]] = {}
    for entry in entries:
        ledgers.setdefault((entry.account, entry.party), []).append(entry)
    groups: dict[tuple[str, str], Aged] = {}
    for (_account, party), own in ledgers.items():
        for entry, amount in _open(own):
            if by == "patient":
                name = entry.patient or party
            else:
                name = party if party.startswith("Organization/") else "Patient"
            aged = groups.setdefault((name, entry.currency), Aged(name, entry.currency))
            slot = bucket((as_of - date.fromisoformat(entry.date)).days)
            aged.buckets[slot] = total((aged.buckets[slot], amount))
    return sorted(groups.values(), key=lambda a: (a.group, a.currency))
