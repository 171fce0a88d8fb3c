"""Charge capture: the ChargeItem for one billable event, priced and put on the patient's Account.

Called by the rules in rules.py inside the write's transaction (the ChargeItem and, when the
patient has none yet, the Account are added to the same commit: both or neither are stored).

- Once per source: the ChargeItem carries `identifier` CHARGE_SOURCE|`Procedure/1`; a lock on
  that key makes two concurrent writes of the source charge it once.
- Priced at the service date from the fee schedule, at the level of the patient's primary
  Coverage (lowest Coverage.order among active ones in force that day: its first payor), or
  self-pay without one. The amount for the whole quantity is `priceOverride` (the field the
  balance keeper and the claim read); `definitionCanonical` names the entry used. A code the
  schedule does not have still makes a ChargeItem, without a price: the claim check lists it.
- The Account: the patient's active Account (subject), created when there is none (one lock per
  patient so two first charges do not open two accounts), listing the coverages in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ...engine import writing  # a module reference: engine.rules imports this module while writing loads
from ...engine.identity import format_instant, new_id, now
from ...engine.rules import WriteContext
from ..codes import CHARGE_SOURCE
from ..dates import in_period
from .fee_schedule import Find, Priced, price_of
from .money import money_value, times

MAX_COVERAGES = 20


@dataclass(frozen=True)
class Billable:
    """What a billable event charges; `source` is its reference (`Procedure/1`)."""

    source: str
    patient: str
    codings: list[dict[str, Any]]
    day: date
    encounter: str | None = None
    quantity: Decimal = Decimal(1)
    performer: str | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    service: bool = True
    """Whether the source may be ChargeItem.service (R4 allows Procedure, Immunization, MedicationDispense...)."""


def _pending(context: WriteContext, resource_type: str) -> list[dict[str, Any]]:
    """Resources of `resource_type` written earlier in this commit (not stored yet)."""
    return [
        w.record.resource()
        for w in context.writes
        if w is not context.write and w.record.resource_type == resource_type and not w.record.deleted
    ]


def _subject_of(resource: dict[str, Any], key: str) -> list[str]:
    value = resource.get(key)
    items = value if isinstance(value, list) else [value]
    return [item["reference"] for item in items if isinstance(item, dict) and isinstance(item.get("reference"), str)]


def coverage_order(coverage: dict[str, Any]) -> int:
    """Coverage.order (1 primary, 2 secondary...); a coverage without one comes last."""
    order = coverage.get("order")
    return order if isinstance(order, int) else 1_000_000


def finder(context: WriteContext) -> Find:
    """A rule's search as the fee schedule's Find."""

    async def find(resource_type: str, criteria: Sequence[tuple[str, str]], limit: int) -> list[dict[str, Any]]:
        return [record.resource() for record in await context.find(resource_type, criteria, limit)]

    return find


async def coverages_in_force(
    find: Find, patient: str, day: date, pending: Sequence[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """The patient's active Coverages in force on `day`, primary first (by Coverage.order); `pending`:
    Coverages of the same commit, not stored yet."""
    stored = await find("Coverage", [("beneficiary", patient), ("status", "active")], MAX_COVERAGES)
    coverages = stored + [
        c for c in pending if c.get("status") == "active" and patient in _subject_of(c, "beneficiary")
    ]
    in_force = [c for c in coverages if in_period(day, c.get("period"))]
    in_force.sort(key=coverage_order)
    return in_force


def payer_of(coverages: Sequence[dict[str, Any]]) -> str | None:
    """The first payor Organization of the first coverage that has one (None: self-pay)."""
    for coverage in coverages:
        for payor in coverage.get("payor") or []:
            reference = payor.get("reference") if isinstance(payor, dict) else None
            if isinstance(reference, str) and reference.startswith("Organization/"):
                return reference
    return None


async def primary_payer(find: Find, patient: str, day: date) -> str | None:
    """The first payor of the patient's primary Coverage in force on `day` (None: self-pay)."""
    return payer_of(await coverages_in_force(find, patient, day))


async def patient_account(context: WriteContext, patient: str, coverages: Sequence[dict[str, Any]] = ()) -> str:
    """The reference of the patient's active Account, adding one to the commit when there is none.

    A new Account lists `coverages` (in force, primary first) so that the balance keeper owes the charges to
    the payer and the 835 import posts to it; an existing Account is left as its users keep it."""
    await context.lock(f"account/{patient}")
    stored = await context.find("Account", [("subject", patient), ("status", "active")], 1)
    if stored:
        return f"Account/{stored[0].id}"
    for account in _pending(context, "Account"):
        if account.get("status") == "active" and patient in _subject_of(account, "subject"):
            return f"Account/{account['id']}"
    account_id = new_id()
    body = {
        "resourceType": "Account",
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PBILLACCT"}]},
        "name": "Patient account",
        "subject": [{"reference": patient}],
    }
    covered = [c for c in coverages if c.get("id")]
    if covered:
        body["coverage"] = [
            {"coverage": {"reference": f"Coverage/{c['id']}"}, "priority": n} for n, c in enumerate(covered, start=1)
        ]
    context.add_write(writing.next_version("Account", account_id, body, None, "POST"))
    return f"Account/{account_id}"


def price_fields(priced: Priced, quantity: Decimal) -> dict[str, Any]:
    """`priceOverride` (the price for the whole quantity) and `definitionCanonical` of a priced charge."""
    value = money_value(priced.amount)
    if value is None:
        return {}
    return {
        "priceOverride": {**priced.amount, "value": times(value, quantity)},
        "definitionCanonical": [priced.canonical],
    }


async def capture(context: WriteContext, billable: Billable) -> None:
    """Add the ChargeItem for `billable` to the commit, unless its source was charged before."""
    await context.lock(f"charge/{billable.source}")
    identifier = f"{CHARGE_SOURCE}|{billable.source}"
    if await context.find("ChargeItem", [("identifier", identifier)], 1):
        return
    for pending in _pending(context, "ChargeItem"):
        if any(
            i.get("system") == CHARGE_SOURCE and i.get("value") == billable.source
            for i in pending.get("identifier") or []
        ):
            return
    find = finder(context)
    coverages = await coverages_in_force(find, billable.patient, billable.day, _pending(context, "Coverage"))
    priced = await price_of(find, billable.codings, billable.day, payer_of(coverages))
    account = await patient_account(context, billable.patient, coverages)
    charge: dict[str, Any] = {
        "resourceType": "ChargeItem",
        "identifier": [{"system": CHARGE_SOURCE, "value": billable.source}],
        "status": "billable",
        "code": {"coding": [dict(priced.coding if priced else billable.codings[0])]},
        "subject": {"reference": billable.patient},
        "occurrenceDateTime": billable.day.isoformat(),
        "quantity": {"value": billable.quantity},
        "enteredDate": format_instant(now()),
        "account": [{"reference": account}],
    }
    if billable.encounter:
        charge["context"] = {"reference": billable.encounter}
    if billable.performer:
        charge["performer"] = [{"actor": {"reference": billable.performer}}]
    if billable.reasons:
        charge["reason"] = billable.reasons
    if billable.service:
        charge["service"] = [{"reference": billable.source}]
    if priced is not None:
        charge.update(price_fields(priced, billable.quantity))
    context.add_write(writing.next_version("ChargeItem", new_id(), charge, None, "POST"))
