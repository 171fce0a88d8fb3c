"""What each billing resource posts to the ledger: pure functions from a resource to its ledger lines.

- ChargeItem (status billable or billed) with `account` and `priceOverride`: a charge of that amount (the
  item's total price, as the charge capture prices it; an unpriced item posts nothing until priced), owed
  by the account's first payer (Account.coverage by priority → Coverage.payor) or, without coverage, by
  the patient (self-pay). Day: the occurrence.
- ClaimResponse (status active) carrying the ACCOUNT extension (the 835 import sets it): the payer's
  `payment.amount`; each adjudication whose category is a CAS group code (header and item level):
  CO, PI and OA are adjustments of the payer's part, PR moves the amount to the patient's part. The
  CARC (`CO-45`) and the RARCs of the line go with the lines.
- PaymentReconciliation (status active): each `detail` whose `request` is an Account posts a payment or
  an adjustment (detail.type) of `detail.amount`, from the patient, or from `detail.submitter` when that
  is an Organization (the desk payment and the manual write-off; the details of an 835's
  PaymentReconciliation name Claims and post nothing: their ClaimResponses do).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...errors import InvalidRequest
from ...i18n import _
from ...storage.billing_ledger import LedgerEntry
from .money import ZERO, read_money

ACCOUNT_EXTENSION = "urn:fhir-server:billing:account"
"""On a ClaimResponse: valueReference, the Account its payment and adjustments post to."""
CAS_GROUP_SYSTEM = "https://x12.org/codes/claim-adjustment-group-codes"
CARC_SYSTEM = "https://x12.org/codes/claim-adjustment-reason-codes"
RARC_SYSTEM = "https://x12.org/codes/remittance-advice-remark-codes"
PAYMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/payment-type"
POSTED_CHARGE_STATUSES = frozenset({"billable", "billed"})
WRITE_OFF_GROUPS = frozenset({"CO", "PI", "OA", "CR"})
PATIENT_GROUP = "PR"


@dataclass(frozen=True)
class AccountFacts:
    """What postings need of an Account: its reference, patient and first payer (None: self-pay)."""

    reference: str
    patient: str
    payer: str | None


def _day(text: Any) -> str | None:
    return text[:10] if isinstance(text, str) and len(text) >= 10 else None


def charge_day(charge: dict[str, Any]) -> str | None:
    """The day a charge counts from: its occurrence, else the day it was entered."""
    period = charge.get("occurrencePeriod") or {}
    return _day(charge.get("occurrenceDateTime")) or _day(period.get("start")) or _day(charge.get("enteredDate"))


def charge_lines(charge: dict[str, Any], source: str, account: AccountFacts, today: str) -> list[LedgerEntry]:
    """The charge a ChargeItem posts (none unless billable or billed)."""
    if charge.get("status") not in POSTED_CHARGE_STATUSES or "priceOverride" not in charge:
        return []
    amount, currency = read_money(charge.get("priceOverride"), "ChargeItem.priceOverride")
    if amount < ZERO:
        raise InvalidRequest(_("A charge cannot be negative."), expression="ChargeItem.priceOverride.value")
    party = account.payer or account.patient
    day = charge_day(charge) or today
    return [LedgerEntry(account.reference, party, "charge", amount, currency, day, source, account.patient)]


def _codes(concept: Any) -> tuple[str, ...]:
    codings = concept.get("coding", []) if isinstance(concept, dict) else []
    return tuple(c["code"] for c in codings if isinstance(c, dict) and isinstance(c.get("code"), str))


def _group(adjudication: dict[str, Any]) -> str | None:
    for coding in (adjudication.get("category") or {}).get("coding", []):
        if coding.get("system") == CAS_GROUP_SYSTEM:
            code = coding.get("code")
            return code if isinstance(code, str) else None
    return None


def _adjudications(response: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    for index, adjudication in enumerate(response.get("adjudication", [])):
        yield adjudication, f"ClaimResponse.adjudication[{index}]"
    for i, item in enumerate(response.get("item", [])):
        for j, adjudication in enumerate(item.get("adjudication", [])):
            yield adjudication, f"ClaimResponse.item[{i}].adjudication[{j}]"


def response_lines(response: dict[str, Any], source: str, account: AccountFacts, today: str) -> list[LedgerEntry]:
    """The payment, adjustments and patient responsibility an adjudicated claim posts."""
    if response.get("status") != "active":
        return []
    payer = (response.get("insurer") or {}).get("reference")
    if not isinstance(payer, str):
        raise InvalidRequest(
            _("ClaimResponse.insurer is required to post a remittance."), expression="ClaimResponse.insurer"
        )
    payment = response.get("payment") or {}
    day = _day(payment.get("date")) or _day(response.get("created")) or today
    lines: list[LedgerEntry] = []

    def line(party: str, kind: str, amount: Decimal, currency: str, codes: tuple[str, ...] = ()) -> None:
        lines.append(LedgerEntry(account.reference, party, kind, amount, currency, day, source, account.patient, codes))

    if payment:
        paid, currency = read_money(payment.get("amount"), "ClaimResponse.payment.amount")
        if paid != ZERO:
            line(payer, "payment", -paid, currency)
    for adjudication, where in _adjudications(response):
        group = _group(adjudication)
        if group is None:
            continue
        amount, currency = read_money(adjudication.get("amount"), f"{where}.amount")
        reason = _codes(adjudication.get("reason"))
        codes = (f"{group}-{reason[0]}", *reason[1:]) if reason else (group,)
        if group == PATIENT_GROUP:
            line(payer, "transfer", -amount, currency, codes)
            line(account.patient, "transfer", amount, currency, codes)
        else:
            line(payer, "adjustment", -amount, currency, codes)
    return lines


def detail_lines(
    reconciliation: dict[str, Any], source: str, accounts: dict[str, AccountFacts], today: str
) -> list[LedgerEntry]:
    """The payments and adjustments a PaymentReconciliation's details post to Accounts."""
    if reconciliation.get("status") != "active":
        return []
    lines = []
    for index, detail in enumerate(reconciliation.get("detail", [])):
        account = accounts.get((detail.get("request") or {}).get("reference", ""))
        if account is None:
            continue
        where = f"PaymentReconciliation.detail[{index}]"
        kind = next((c for c in _codes(detail.get("type")) if c in ("payment", "adjustment")), None)
        if kind is None:
            raise InvalidRequest(
                _("{where}.type must be payment or adjustment to post to an Account.").format(where=where),
                expression=f"{where}.type",
            )
        amount, currency = read_money(detail.get("amount"), f"{where}.amount")
        if amount <= ZERO:
            raise InvalidRequest(
                _("{where}.amount must be more than zero.").format(where=where), expression=f"{where}.amount.value"
            )
        submitter = (detail.get("submitter") or {}).get("reference")
        party = submitter if isinstance(submitter, str) and submitter.startswith("Organization/") else account.patient
        day = _day(detail.get("date")) or _day(reconciliation.get("paymentDate")) or today
        lines.append(LedgerEntry(account.reference, party, kind, -amount, currency, day, source, account.patient))
    return lines


def detail_accounts(reconciliation: dict[str, Any]) -> list[str]:
    """The Accounts a PaymentReconciliation's details name."""
    found = [(d.get("request") or {}).get("reference") for d in reconciliation.get("detail", [])]
    return [r for r in found if isinstance(r, str) and r.startswith("Account/")]


def response_account(response: dict[str, Any]) -> str | None:
    """The Account a ClaimResponse posts to (its ACCOUNT extension)."""
    for extension in response.get("extension", []):
        if extension.get("url") == ACCOUNT_EXTENSION:
            reference = (extension.get("valueReference") or {}).get("reference")
            return reference if isinstance(reference, str) else None
    return None
