"""The one balance computation: every screen and operation that shows what is owed calls `balance_of`.

balance = charges − payments − adjustments: the exact sum of an account's ledger entries (charges are
positive, payments and adjustments negative, a transfer to patient responsibility moves an amount from
the payer's part to the patient's and leaves the total alone). The entries are written in the same
transaction as each posting (rules.py), so the balance is never behind the resources.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from ...storage.billing_ledger import LedgerEntry
from .money import ZERO, total


@dataclass(frozen=True)
class Balance:
    """What is owed on one account: in all and by party (payer Organizations, the patient)."""

    account: str
    currency: str | None
    """None while the account has no entries."""
    amount: Decimal = ZERO
    by_party: dict[str, Decimal] = field(default_factory=dict)


def balance_of(account: str, entries: Sequence[LedgerEntry]) -> Balance:
    """The balance of `account` from its ledger entries (entries of other accounts are ignored)."""
    mine = [entry for entry in entries if entry.account == account]
    parties: dict[str, list[Decimal]] = {}
    for entry in mine:
        parties.setdefault(entry.party, []).append(entry.amount)
    return Balance(
        account=account,
        currency=mine[0].currency if mine else None,
        amount=total(entry.amount for entry in mine),
        by_party={party: total(amounts) for party, amounts in parties.items()},
    )
