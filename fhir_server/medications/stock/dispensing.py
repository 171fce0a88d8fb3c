"""`MedicationDispense/$dispense`: a dispense from stock, its lot chosen first-expiry-first-out.

The caller names a product (the lot is chosen: the one expiring first among those at the location that
are neither expired nor recalled and hold the quantity) or a lot (taken as named; the write rule still
refuses an expired or recalled one). With a prescription, the patient, directions, days' supply and
(unless given) the quantity come from it, and the rule holds the dispense to its quantity and refills.
The MedicationDispense is written through the engine, so the write rule posts it to the ledger; a lot
emptied by another dispense between the choice and the commit (409) is chosen again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ...auth.policy import AccessPolicy
from ...engine import create_resource
from ...engine.identity import format_instant, now
from ...errors import Unprocessable
from ...i18n import _
from ...storage import ResourceStore, StoredResource
from ...storage.stock_ledger import StockLedgerStore
from .ledger import InsufficientStock
from .model import Lot, reference_of
from .prescriptions import authorization
from .queries import current, find

_CHOICES = 5
_LOTS_SEEN = 500


@dataclass(frozen=True)
class DispenseOrder:
    """What to dispense: a product or a lot, where from, how much, for whom, against which prescription."""

    medication: str
    location: str
    quantity: Decimal | None
    patient: str | None
    prescription: str | None
    performer: str | None


async def choose_lot(
    store: ResourceStore, ledger: StockLedgerStore, product: str, location: str, quantity: Decimal, today: date
) -> Lot:
    """The lot of `product` at `location` to take `quantity` from: first expiry first out."""
    candidates: list[Lot] = []
    for balance in await ledger.lot_balances({"product": product, "location": location}, _LOTS_SEEN):
        if balance["lotBalance"] < quantity:
            continue
        medication = await current(store, balance["lot"])
        lot = Lot.of(medication) if medication else None
        if lot is not None and not lot.recalled and not lot.expired(today):
            candidates.append(lot)
    if not candidates:
        raise InsufficientStock(
            _("No lot of {product} at {location} holds {quantity} that is neither expired nor recalled.").format(
                product=product, location=location, quantity=quantity
            ),
            expression="Parameters.parameter.where(name='quantity')",
        )
    return min(candidates, key=lambda lot: (lot.expiry or date.max, lot.number))


async def dispense(
    store: ResourceStore, policy: AccessPolicy, ledger: StockLedgerStore, order: DispenseOrder
) -> tuple[StoredResource, int | None]:
    """Write the MedicationDispense of `order`; it and the refills its prescription has left (None: no prescription)."""
    request = await _prescription(store, order.prescription)
    quantity = order.quantity or _prescribed_quantity(request)
    medication = await current(store, order.medication)
    if medication is None:
        raise Unprocessable(
            _("There is no medication {reference}.").format(reference=order.medication),
            expression="Parameters.parameter.where(name='medication')",
        )
    named, choices = Lot.of(medication), 0
    while True:
        lot = named or await choose_lot(store, ledger, order.medication, order.location, quantity, now().date())
        try:
            written = await create_resource(
                store, policy, "MedicationDispense", _dispense_body(order, lot, quantity, request)
            )
        except InsufficientStock:
            choices += 1
            if named is not None or choices == _CHOICES:
                raise
            continue
        return written.record, await _refills_left(store, policy, order.prescription, request)


async def _prescription(store: ResourceStore, reference: str | None) -> dict[str, Any] | None:
    if reference is None:
        return None
    request = await current(store, reference) if reference.startswith("MedicationRequest/") else None
    if request is None:
        raise Unprocessable(
            _("There is no prescription {reference}.").format(reference=reference),
            expression="Parameters.parameter.where(name='prescription')",
        )
    return request


def _prescribed_quantity(request: dict[str, Any] | None) -> Decimal:
    value = (((request or {}).get("dispenseRequest") or {}).get("quantity") or {}).get("value")
    if value is None:
        raise Unprocessable(
            _("Give the quantity to dispense."), expression="Parameters.parameter.where(name='quantity')"
        )
    return Decimal(value)


def _dispense_body(order: DispenseOrder, lot: Lot, quantity: Decimal, request: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "status": "completed",
        "medicationReference": {"reference": lot.reference},
        "location": {"reference": order.location},
        "quantity": {"value": quantity},
        "whenHandedOver": format_instant(now()),
    }
    patient = order.patient or reference_of((request or {}).get("subject"))
    if patient:
        body["subject"] = {"reference": patient}
    if order.performer:
        body["performer"] = [{"actor": {"reference": order.performer}}]
    if request is not None:
        body["authorizingPrescription"] = [{"reference": order.prescription}]
        if request.get("dosageInstruction"):
            body["dosageInstruction"] = request["dosageInstruction"]
        supply = (request.get("dispenseRequest") or {}).get("expectedSupplyDuration")
        if supply:
            body["daysSupply"] = supply
    return body


async def _refills_left(
    store: ResourceStore, policy: AccessPolicy, prescription: str | None, request: dict[str, Any] | None
) -> int | None:
    if prescription is None or request is None:
        return None
    fills = await find(
        store, policy, "MedicationDispense", [("prescription", prescription), ("status", "completed")], 1000
    )
    return authorization(request, len(fills)).refills_left
