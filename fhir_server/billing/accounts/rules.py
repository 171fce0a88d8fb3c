"""Write rules that keep the ledger (storage/billing_ledger.py) in step with every posting.

On each version of a ChargeItem, ClaimResponse or PaymentReconciliation (create, update, patch,
delete) the rule computes the lines the new version posts (postings.py) and compares them with what
the resource's earlier versions posted: when they differ it inserts the reversal of the old lines and
the new ones, in the write's own transaction. A refused posting (no currency, a currency other than
the account's, a payment larger than what the patient owes) refuses the write: nothing is written.

Concurrency: postings only ever insert their own lines, so two at once cannot lose one another. What
the rule reads is guarded with `context.lock` (taken before the read): what a changed resource posted
before (locked per resource), the balance a payment is checked against (locked per account), and the
currency of an account that has none yet (the first posting sets it; once set it never changes, so later
postings read it without a lock). Two payments to one account at once are serialized: the loser is
retried and sees the winner's lines. A posting costs an Account read and one or two indexed ledger reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ...engine.rules.registry import WriteContext, write_rule
from ...errors import InvalidRequest, Unprocessable
from ...i18n import _
from ...storage.billing_ledger import COLLECTION, LedgerEntry, ledger_of
from .balance import balance_of
from .money import total
from .postings import (
    AccountFacts,
    charge_lines,
    detail_accounts,
    detail_lines,
    response_account,
    response_lines,
)


async def _resource(context: WriteContext, reference: str) -> dict[str, Any] | None:
    """The current resource `reference` ("Account/1"), a version of this commit first."""
    for write in context.writes:
        if write.record.reference == reference:
            return None if write.record.deleted else write.record.resource()
    resource_type, _sep, resource_id = reference.partition("/")
    stored = await context.store.get(resource_type, resource_id)
    return None if stored is None or stored.deleted else stored.resource()


async def _payer(context: WriteContext, account: dict[str, Any]) -> str | None:
    """The payer Organization of the account's first coverage (by priority), None for self-pay."""
    covered = sorted(account.get("coverage", []), key=lambda c: c.get("priority", 1))
    for entry in covered:
        reference = (entry.get("coverage") or {}).get("reference")
        coverage = await _resource(context, reference) if isinstance(reference, str) else None
        for payor in (coverage or {}).get("payor", []):
            if str(payor.get("reference", "")).startswith("Organization/"):
                return str(payor["reference"])
    return None


async def _facts(
    context: WriteContext, reference: Any, where: str, payer: bool = False, patient: Any = None
) -> AccountFacts:
    """The facts of the Account `reference` (its payer only when asked: charges need it, remittances name
    theirs; `patient` when the Account's subject is not one); InvalidRequest naming `where` when it cannot
    take postings."""
    named = isinstance(reference, str) and reference.startswith("Account/")
    account = await _resource(context, reference) if named else None
    if account is None:
        raise InvalidRequest(_("{where} must name an existing Account.").format(where=where), expression=where)
    subjects = [str(subject.get("reference", "")) for subject in account.get("subject", [])]
    patients = [subject for subject in subjects if subject.startswith("Patient/")]
    if not patients and isinstance(patient, str) and patient.startswith("Patient/"):
        patients = [patient]
    if not patients:
        raise InvalidRequest(
            _("The Account named by {where} has no patient as its subject.").format(where=where), expression=where
        )
    return AccountFacts(str(reference), patients[0], await _payer(context, account) if payer else None)


def _net(entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """Entries summed per (account, party, kind, currency, day, codes), zero sums left out."""
    groups: dict[tuple[Any, ...], list[LedgerEntry]] = {}
    for entry in entries:
        key = (entry.account, entry.party, entry.kind, entry.currency, entry.date, entry.patient, entry.codes)
        groups.setdefault(key, []).append(entry)
    summed = [replace(group[0], amount=total(e.amount for e in group)) for group in groups.values()]
    return [entry for entry in summed if entry.amount != 0]


def _same(left: Sequence[LedgerEntry], right: Sequence[LedgerEntry]) -> bool:
    def key(entry: LedgerEntry) -> tuple[Any, ...]:
        return (entry.account, entry.party, entry.kind, entry.currency, entry.date, entry.amount, entry.codes)

    return sorted(map(key, left)) == sorted(map(key, right))


async def post(context: WriteContext, lines: list[LedgerEntry], *, payments_within_balance: bool = False) -> None:
    """Have the ledger hold `lines` for the resource written: insert what changes, in the write's transaction.

    With `payments_within_balance`, a payment larger than what its party owes on the account is refused.
    """
    source = context.write.record.reference
    ledger = ledger_of(context.store)
    posted: list[LedgerEntry] = []
    if context.current is not None:  # a new resource has posted nothing yet
        await context.lock(f"billing/source/{source}")
        posted = _net(await ledger.of_source(source))
    if _same(posted, _net(lines)):
        return
    changes = [replace(entry, amount=-entry.amount) for entry in posted] + lines
    accounts = sorted({entry.account for entry in changes})
    for account in accounts:
        currency = await ledger.currency_of(account)
        if currency is None or payments_within_balance:
            await context.lock(f"billing/account/{account}")
            currency = await ledger.currency_of(account)
        _check_account(currency, [e for e in changes if e.account == account])
    if payments_within_balance:
        _check_payments(await ledger.of_accounts(accounts) + changes, lines)
    record = context.write.record
    for number, entry in enumerate(changes):
        context.add_document(COLLECTION, entry.document(f"{source}/{record.version_id}/{number}", record.last_updated))


def _check_account(currency: str | None, changes: list[LedgerEntry]) -> None:
    currencies = {entry.currency for entry in changes} | ({currency} if currency else set())
    if len(currencies) > 1:
        raise InvalidRequest(
            _("Account {account} is kept in {currency}; a posting in another currency is refused.").format(
                account=changes[0].account, currency=currency or sorted(currencies)[0]
            )
        )


def _check_payments(after: list[LedgerEntry], lines: list[LedgerEntry]) -> None:
    """Refuse when a payment leaves its party owing less than nothing on the account."""
    for line in lines:
        if line.kind != "payment":
            continue
        owed = balance_of(line.account, after).by_party.get(line.party)
        if owed is not None and owed < 0:
            raise Unprocessable(
                _("The payment is larger than what is owed on {account}.").format(account=line.account),
                expression="PaymentReconciliation.detail.amount",
            )


def _today(context: WriteContext) -> str:
    return context.write.record.last_updated.date().isoformat()


@write_rule("billing-post-charge", ["ChargeItem"])
async def post_charge(context: WriteContext) -> None:
    charge = context.new
    lines: list[LedgerEntry] = []
    if charge is not None and charge.get("account"):
        subject = (charge.get("subject") or {}).get("reference")
        where = "ChargeItem.account[0]"
        facts = await _facts(context, charge["account"][0].get("reference"), where, payer=True, patient=subject)
        lines = charge_lines(charge, context.write.record.reference, facts, _today(context))
    await post(context, lines)


@write_rule("billing-post-claim-response", ["ClaimResponse"])
async def post_claim_response(context: WriteContext) -> None:
    response = context.new
    lines: list[LedgerEntry] = []
    if response is not None and (account := response_account(response)) is not None:
        facts = await _facts(context, account, "ClaimResponse.extension")
        lines = response_lines(response, context.write.record.reference, facts, _today(context))
    await post(context, lines)


@write_rule("billing-post-payment", ["PaymentReconciliation"])
async def post_payment(context: WriteContext) -> None:
    reconciliation = context.new
    lines: list[LedgerEntry] = []
    if reconciliation is not None:
        references = detail_accounts(reconciliation)
        accounts = {r: await _facts(context, r, "PaymentReconciliation.detail.request") for r in references}
        lines = detail_lines(reconciliation, context.write.record.reference, accounts, _today(context))
    await post(context, lines, payments_within_balance=True)
