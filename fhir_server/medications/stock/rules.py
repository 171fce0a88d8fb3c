"""The write rule that keeps the on-hand: every version that moves stock posts to the ledger in its transaction.

It guards SupplyDelivery, MedicationDispense and MedicationAdministration on every write path (REST,
Bundles, imports, HL7 v2) and every interaction: a new version's movement (model.py) is checked (a
quantity above zero, a lot that exists, a location that exists; for what leaves to a patient, a lot
neither expired nor recalled; for a dispense against a prescription, the prescription's quantity and
refills) and posted; the movement of the version it replaces, if any, is reversed. So correcting a
dispense to `entered-in-error`, or deleting it, puts its units back, and the ledger always sums to
the movements of the current versions. A lot that would go below zero refuses the write with 409.

Limit: one version per transaction Bundle may move stock (a second one is refused with 422), as the
ledger entries of one commit are numbered from what the database holds.
"""

from __future__ import annotations

from decimal import Decimal

from ...engine.identity import now
from ...engine.rules.registry import WriteContext, write_rule
from ...errors import InvalidRequest, Unprocessable
from ...i18n import _
from ...storage.stock_ledger import ALERTS, LEDGER, StockLedgerStore
from .ledger import Change, post
from .model import DISPENSE, Lot, Movement, movement, positive_quantity
from .prescriptions import check_prescription

MOVING_TYPES = ("SupplyDelivery", "MedicationDispense", "MedicationAdministration")


@write_rule("stock-movement", MOVING_TYPES)
async def stock_movement(context: WriteContext) -> None:
    """Post the change of stock of this version to the ledger, or refuse it."""
    new = movement(context.new)
    old = None if context.current is None or context.current.deleted else movement(context.current.resource())
    if new is None and old is None:
        return
    _alone_in_commit(context)
    changes: list[Change] = []
    if old is not None:
        lot = await _lot(context, old)
        taken_back = positive_quantity(old.quantity) or Decimal(0)
        changes.append(_change(context, old, lot, -old.sign * taken_back))
    if new is not None:
        quantity = positive_quantity(new.quantity)
        if quantity is None:
            raise InvalidRequest(_("The quantity must be a number above zero."), expression=new.quantity_path)
        lot = await _lot(context, new)
        await _location(context, new)
        if new.sign < 0 and _changed(old, new):
            _dispensable(lot, new)
        if new.kind == DISPENSE and new.prescription and _changed(old, new):
            await check_prescription(context, new, lot, quantity)
        changes.append(_change(context, new, lot, new.sign * quantity))
    changes = [change for change in changes if change.quantity != 0]
    if len(changes) == 2 and _same_place(*changes) and changes[0].quantity + changes[1].quantity == 0:
        return  # the version changes something else (a note, a status between two that move stock)
    for product, location in sorted({(change.product, change.location) for change in changes}):
        await context.lock(f"stock/{product}|{location}")  # a lost race fails at the start of the commit
    entries, alerts = await post(StockLedgerStore.of(context.store), sorted(changes, key=_incoming_first), now())
    for entry in entries:
        context.add_document(LEDGER, entry)
    for alert in alerts:
        context.add_document(ALERTS, alert)


def _incoming_first(change: Change) -> int:
    """Put units in before taking them out, so moving a dispense to another lot never dips below zero midway."""
    return 0 if change.quantity > 0 else 1


def _same_place(first: Change, second: Change) -> bool:
    return (first.lot, first.location) == (second.lot, second.location)


def _changed(old: Movement | None, new: Movement) -> bool:
    """Whether `new` moves other units than `old` (a new lot, location, quantity or kind)."""
    if old is None:
        return True
    return (old.kind, old.lot, old.location, positive_quantity(old.quantity)) != (
        new.kind, new.lot, new.location, positive_quantity(new.quantity),
    )  # fmt: skip


def _change(context: WriteContext, moved: Movement, lot: Lot, quantity: Decimal) -> Change:
    policy = context.policy
    return Change(
        product=lot.product,
        lot=lot.reference,
        location=moved.location,
        quantity=quantity,
        kind=moved.kind,
        expression=moved.quantity_path,
        source=f"{context.resource_type}/{context.resource_id}/_history/{context.write.record.version_id}",
        patient=moved.patient,
        prescription=moved.prescription,
        by=(policy.fhir_user or policy.subject) if policy is not None else None,
    )


def _alone_in_commit(context: WriteContext) -> None:
    others = [w for w in context.writes if w is not context.write and w.record.resource_type in MOVING_TYPES]
    if any(movement(None if w.record.deleted else w.record.resource()) for w in others):
        raise Unprocessable(
            _("Only one stock movement may be written per transaction; send the others separately."),
            expression=context.resource_type,
        )


async def _lot(context: WriteContext, moved: Movement) -> Lot:
    """The lot a movement names; 422 naming the element when it is unknown or not a lot."""
    kind, _slash, lot_id = moved.lot.partition("/")
    stored = await context.store.get(kind, lot_id)
    if stored is None or stored.deleted:
        raise Unprocessable(
            _("There is no medication {reference}.").format(reference=moved.lot), expression=moved.lot_path
        )
    lot = Lot.of(stored.resource())
    if lot is None:
        raise Unprocessable(
            _("{reference} is not a lot: stock moves by lot (a Medication with a batch lot number and its product).")
            .format(reference=moved.lot),
            expression=moved.lot_path,
        )  # fmt: skip
    return lot


async def _location(context: WriteContext, moved: Movement) -> None:
    kind, _slash, location_id = moved.location.partition("/")
    stored = await context.store.get(kind, location_id) if kind == "Location" else None
    if stored is None or stored.deleted:
        raise Unprocessable(
            _("There is no location {reference}.").format(reference=moved.location), expression=moved.location_path
        )


def _dispensable(lot: Lot, moved: Movement) -> None:
    """Refuse giving a patient units of an expired or recalled lot."""
    if lot.recalled:
        raise Unprocessable(
            _("Lot {lot} of {reference} is recalled and cannot be given out.").format(
                lot=lot.number, reference=lot.reference
            ),
            expression=moved.lot_path,
        )
    if lot.expired(now().date()):
        raise Unprocessable(
            _("Lot {lot} of {reference} expired on {date} and cannot be given out.").format(
                lot=lot.number, reference=lot.reference, date=lot.expiry
            ),
            expression=moved.lot_path,
        )
