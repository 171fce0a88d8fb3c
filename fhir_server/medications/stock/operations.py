"""The dispensary's declared operations: on-hand, movements, transfer, adjust, return, recall, reorder point,
dispense and label.

Receipts, dispenses and administrations are plain FHIR writes (SupplyDelivery, MedicationDispense,
MedicationAdministration) that the write rule posts; `$dispense` is a convenience over the latter.
Transfers, returns to the vendor and adjustments have no R4 resource: they are ledger entries only,
written by `$stock-transfer`, `$stock-return` and `$stock-adjust` on the lot, and read back with
`$stock-movements`. Those three need the permission to create SupplyDelivery (a stock movement).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from ...engine import read_resource, update_resource
from ...engine.identity import format_instant, now
from ...errors import InvalidRequest, ResourceNotFound, Unprocessable
from ...i18n import _
from ...names import display_name
from ...rest.context import store_of
from ...rest.operations.declaration import INSTANCE, TYPE, Operation, OperationCall, Parameter
from ...rest.operations.parameters import operation_query
from ...rest.responses import FhirResponse
from ...storage import ResourceStore
from ...storage.stock_ledger import StockLedgerStore
from .dispensing import DispenseOrder, dispense
from .label import LabelText, label_pdf
from .ledger import Change, append_changes
from .model import ADJUSTMENT, ADJUSTMENT_REASONS, RECALLED, RETURN, TRANSFER_IN, TRANSFER_OUT, Lot, reference_of
from .params import Inputs, where
from .queries import current

_MOST_ROWS = 5000
_DEFAULT_ROWS = 500


def _ledger(call: OperationCall) -> StockLedgerStore:
    return StockLedgerStore.of(store_of(call.request))


async def _inputs(call: OperationCall, operation_id: str) -> Inputs:
    """The call's parameters, each one declared by the operation `operation_id` (else 400)."""
    declared = next(operation for operation in STOCK_OPERATIONS if operation.id == operation_id)
    names = [parameter.name for parameter in declared.parameters if parameter.use == "in"]
    return Inputs.checked(await operation_query(call.request), names)


def _limit(inputs: Inputs) -> int:
    value = inputs.one("_count")
    if value is None:
        return _DEFAULT_ROWS
    if not value.isdigit() or not 0 < int(value) <= _MOST_ROWS:
        raise InvalidRequest(
            _("Parameter '{name}' must be a whole number from 1 to {most}.").format(name="_count", most=_MOST_ROWS),
            expression=where("_count"),
        )
    return int(value)


def _parameters(parameters: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parameters)}


_REFERENCES = frozenset({"product", "lot", "location", "counterpart", "source", "patient", "prescription", "reference"})
"""The fields of a ledger entry or stock row that are references."""


def _part(name: str, value: Any) -> dict[str, Any] | None:
    """A Parameters part of the FHIR type the value has (None for None)."""
    if value is None:
        return None
    if name in _REFERENCES:
        return {"name": name, "valueReference": {"reference": str(value)}}
    if isinstance(value, bool):
        return {"name": name, "valueBoolean": value}
    if isinstance(value, Decimal):
        return {"name": name, "valueDecimal": value}
    if isinstance(value, int):
        return {"name": name, "valueInteger": value}
    if isinstance(value, datetime):
        return {"name": name, "valueInstant": format_instant(value)}
    if isinstance(value, date):
        return {"name": name, "valueDate": value.isoformat()}
    return {"name": name, "valueString": str(value)}


def _group(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "part": [part for key, value in fields.items() if (part := _part(key, value))]}


async def _lot(call: OperationCall) -> Lot:
    """The lot the operation is invoked on: 404 when it does not exist, 422 when the Medication is no lot."""
    reference = f"Medication/{call.resource_id}"
    record = await read_resource(store_of(call.request), call.policy, "Medication", str(call.resource_id))
    lot = Lot.of(record.resource())
    if lot is None:
        raise Unprocessable(
            _("{reference} is not a lot: stock moves by lot (a Medication with a batch lot number and its product).")
            .format(reference=reference),
            expression="Medication.batch.lotNumber",
        )  # fmt: skip
    return lot


async def _location(store: ResourceStore, inputs: Inputs, name: str) -> str:
    """The Location named by parameter `name`; 422 naming it when there is none."""
    reference = str(inputs.reference(name, "Location"))
    if await current(store, reference) is None:
        raise Unprocessable(_("There is no location {reference}.").format(reference=reference), expression=where(name))
    return reference


def _who(call: OperationCall) -> str | None:
    return call.policy.fhir_user or call.policy.subject


def _entries_answer(entries: Sequence[dict[str, Any]]) -> Response:
    return FhirResponse(_parameters([_group("entry", _entry_fields(entry)) for entry in entries]))


def _entry_fields(entry: dict[str, Any]) -> dict[str, Any]:
    names = ("at", "kind", "product", "lot", "location", "quantity", "lotBalance", "balance", "reason",
             "counterpart", "source", "patient", "prescription", "by")  # fmt: skip
    return {name: entry.get(name) for name in names}


async def on_hand(call: OperationCall) -> Response:
    """The on-hand of each lot × location matching `product`, `lot`, `location` (and `expiring` within days)."""
    call.policy.require("r", "Medication")
    inputs = await _inputs(call, "Medication-on-hand")
    criteria = {
        name: reference
        for name in ("product", "lot", "location")
        if (reference := inputs.reference(name, "Location" if name == "location" else "Medication", required=False))
    }
    expiring = inputs.quantity("expiring", required=False)
    limit = _limit(inputs)
    rows = await _ledger(call).lot_balances(criteria, limit)
    store = store_of(call.request)
    lots = {f"Medication/{r.id}": Lot.of(r.resource()) for r in await store.get_many([row["lot"] for row in rows])}
    horizon = now().date() + timedelta(days=int(expiring)) if expiring is not None else None
    points = await _ledger(call).reorder_points_of([(row["product"], row["location"]) for row in rows])
    answer = []
    for row in rows:
        lot = lots.get(row["lot"])
        if horizon is not None and (lot is None or lot.expiry is None or lot.expiry > horizon):
            continue
        fields = {
            "product": row["product"], "lot": row["lot"], "lotNumber": lot.number if lot else None,
            "expirationDate": lot.expiry if lot else None, "recalled": lot.recalled if lot else None,
            "location": row["location"], "onHand": row["lotBalance"],
            "reorderPoint": points.get((row["product"], row["location"])),
        }  # fmt: skip
        answer.append(_group("stock", fields))
    return FhirResponse(_parameters(answer))


async def movements(call: OperationCall) -> Response:
    """Ledger entries, newest first, by `product`, `lot`, `location` or `patient`."""
    call.policy.require("r", "Medication")
    call.policy.require("r", "MedicationDispense")
    inputs = await _inputs(call, "Medication-stock-movements")
    types = {"location": "Location", "patient": "Patient"}
    criteria = {
        name: reference
        for name in ("product", "lot", "location", "patient")
        if (reference := inputs.reference(name, types.get(name, "Medication"), required=False))
    }
    return _entries_answer(await _ledger(call).entries(criteria, _limit(inputs)))


async def transfer(call: OperationCall) -> Response:
    """Move `quantity` of the lot from location `from` to location `to`."""
    call.policy.require("c", "SupplyDelivery")
    inputs, store = await _inputs(call, "Medication-stock-transfer"), store_of(call.request)
    lot = await _lot(call)
    quantity = inputs.quantity("quantity")
    assert quantity is not None
    source, destination = await _location(store, inputs, "from"), await _location(store, inputs, "to")
    if source == destination:
        raise InvalidRequest(_("A transfer needs two different locations."), expression=where("to"))
    note, who = inputs.one("note"), _who(call)
    changes = [
        Change(lot.product, lot.reference, destination, quantity, TRANSFER_IN, where("quantity"),
               counterpart=source, reason=note, by=who),
        Change(lot.product, lot.reference, source, -quantity, TRANSFER_OUT, where("quantity"),
               counterpart=destination, reason=note, by=who),
    ]  # fmt: skip
    return _entries_answer(await append_changes(_ledger(call), changes))


async def adjust(call: OperationCall) -> Response:
    """Correct the on-hand of the lot at `location` by `quantity` (signed) for a `reason`."""
    call.policy.require("c", "SupplyDelivery")
    inputs, store = await _inputs(call, "Medication-stock-adjust"), store_of(call.request)
    lot = await _lot(call)
    quantity = inputs.quantity("quantity", signed=True)
    assert quantity is not None
    reason = inputs.required("reason")
    if reason not in ADJUSTMENT_REASONS:
        raise InvalidRequest(
            _("Parameter '{name}' must be one of: {codes}.").format(name="reason", codes=", ".join(ADJUSTMENT_REASONS)),
            expression=where("reason"),
        )
    location = await _location(store, inputs, "location")
    change = Change(lot.product, lot.reference, location, quantity, ADJUSTMENT, where("quantity"), reason=reason,
                    by=_who(call))  # fmt: skip
    return _entries_answer(await append_changes(_ledger(call), [change]))


async def return_to_vendor(call: OperationCall) -> Response:
    """Send `quantity` of the lot at `location` back to its vendor (`supplier`, an Organization, optional)."""
    call.policy.require("c", "SupplyDelivery")
    inputs, store = await _inputs(call, "Medication-stock-return"), store_of(call.request)
    lot = await _lot(call)
    quantity = inputs.quantity("quantity")
    assert quantity is not None
    location = await _location(store, inputs, "location")
    supplier = inputs.reference("supplier", "Organization", required=False)
    change = Change(lot.product, lot.reference, location, -quantity, RETURN, where("quantity"),
                    counterpart=supplier, reason=inputs.one("note"), by=_who(call))  # fmt: skip
    return _entries_answer(await append_changes(_ledger(call), [change]))


async def recall(call: OperationCall) -> Response:
    """Mark the lot recalled (never given out again) and list the patients who received it."""
    await _inputs(call, "Medication-recall")
    call.policy.require("u", "Medication")
    call.policy.require("r", "Patient")
    store = store_of(call.request)
    lot = await _lot(call)
    if not lot.recalled:
        medication = (await read_resource(store, call.policy, "Medication", str(call.resource_id))).resource()
        medication["status"] = "inactive"
        medication["extension"] = [
            *(medication.get("extension") or []),
            {"url": RECALLED, "valueDateTime": format_instant(now())},
        ]
        await update_resource(store, call.policy, "Medication", str(call.resource_id), medication)
    received: dict[str, Decimal] = {}
    for entry in await _ledger(call).entries({"lot": lot.reference, "patient": {"$exists": True}}, _MOST_ROWS):
        received[entry["patient"]] = received.get(entry["patient"], Decimal(0)) - entry["quantity"]
    patients = {f"Patient/{r.id}": r.resource() for r in await store.get_many(list(received))}
    answer = [
        _group("patient", {"reference": reference, "name": display_name(patients.get(reference) or {}) or None,
                           "quantity": quantity})
        for reference, quantity in sorted(received.items()) if quantity > 0
    ]  # fmt: skip
    return FhirResponse(_parameters([{"name": "lot", "valueReference": {"reference": lot.reference}}, *answer]))


async def reorder_point(call: OperationCall) -> Response:
    """Set the reorder point of the product at `location` (without `point`: remove it)."""
    call.policy.require("u", "Medication")
    inputs, store = await _inputs(call, "Medication-reorder-point"), store_of(call.request)
    product = f"Medication/{call.resource_id}"
    medication = (await read_resource(store, call.policy, "Medication", str(call.resource_id))).resource()
    if Lot.of(medication) is not None:
        raise Unprocessable(
            _("{reference} is a lot: a reorder point is set on its product.").format(reference=product),
            expression="Medication.batch",
        )
    location = await _location(store, inputs, "location")
    point = inputs.one("point")
    value = None if point is None else inputs.quantity("point", signed=True)
    if value is not None and value < 0:
        raise InvalidRequest(
            _("Parameter '{name}' must not be negative.").format(name="point"), expression=where("point")
        )
    await _ledger(call).set_reorder_point(product, location, value)
    fields = {"product": product, "location": location, "point": value}
    return FhirResponse(_parameters([part for key, v in fields.items() if (part := _part(key, v))]))


async def dispense_from_stock(call: OperationCall) -> Response:
    """Dispense from stock (lot first-expiry-first-out unless one is named), against a prescription or not."""
    inputs, store = await _inputs(call, "MedicationDispense-dispense"), store_of(call.request)
    prescription = inputs.reference("prescription", "MedicationRequest", required=False)
    medication = inputs.reference("medication", "Medication", required=prescription is None)
    if medication is None:
        request = await current(store, prescription)
        medication = reference_of((request or {}).get("medicationReference"))
        if medication is None:
            inputs.required("medication")
    order = DispenseOrder(
        medication=str(medication),
        location=await _location(store, inputs, "location"),
        quantity=inputs.quantity("quantity", required=False),
        patient=inputs.reference("patient", "Patient", required=False),
        prescription=prescription,
        performer=inputs.reference("performer", "Practitioner", required=False),
    )
    record, refills_left = await dispense(store, call.policy, _ledger(call), order)
    answer: list[dict[str, Any]] = [{"name": "dispense", "resource": record.resource()}]
    if refills_left is not None:
        answer.append({"name": "refillsRemaining", "valueInteger": refills_left})
    return FhirResponse(_parameters(answer), status_code=201)


async def label(call: OperationCall) -> Response:
    """The dispense's label as a PDF."""
    await _inputs(call, "MedicationDispense-label")
    store = store_of(call.request)
    given = (await read_resource(store, call.policy, "MedicationDispense", str(call.resource_id))).resource()
    medication = await current(store, reference_of(given.get("medicationReference")))
    lot = Lot.of(medication) if medication else None
    if medication is None or lot is None:
        raise ResourceNotFound(_("This dispense is not from stock: it has no label."))
    patient_ref = reference_of(given.get("subject"))
    patient = await current(store, patient_ref) if patient_ref and call.policy.allows("r", "Patient") else None
    where_from = await current(store, reference_of(given.get("location")))
    directions = " ".join(str(d.get("text", "")) for d in given.get("dosageInstruction") or [] if isinstance(d, dict))
    prescriptions = given.get("authorizingPrescription") or []
    text = LabelText(
        patient=display_name(patient) if patient else "",
        drug=str((medication.get("code") or {}).get("text") or _coding_display(medication)),
        directions=directions.strip(),
        quantity=str((given.get("quantity") or {}).get("value", "")),
        lot=lot.number,
        expiry=lot.expiry,
        handed_over=now().date()
        if not given.get("whenHandedOver")
        else date.fromisoformat(str(given["whenHandedOver"])[:10]),
        pharmacy=str((where_from or {}).get("name", "")),
        prescription=reference_of(prescriptions[0]) if prescriptions else None,
    )
    return Response(label_pdf(text), media_type="application/pdf")


def _coding_display(medication: dict[str, Any]) -> str:
    codings = (medication.get("code") or {}).get("coding") or []
    return str(codings[0].get("display") or codings[0].get("code")) if codings else str(medication.get("id"))


_LOT_AT = "The lot (a Medication with batch and stock-product) the operation is invoked on."
_QUANTITY = Parameter("quantity", "in", 1, "1", "decimal", "How many units (above zero).")
_ENTRIES = Parameter("entry", "out", 0, "*", None, "The ledger entries written, one per lot x location.")

ON_HAND = Operation(
    code="on-hand",
    id="Medication-on-hand",
    title="Stock on hand",
    description="The on-hand of each lot at each location, by product, lot or location; `expiring` (days) "
    "keeps only lots expiring within that many days.",
    levels=(TYPE,),
    resource_types=("Medication",),
    affects_state=False,
    parameters=(
        Parameter("product", "in", 0, "1", "Reference", "The product Medication."),
        Parameter("lot", "in", 0, "1", "Reference", "The lot Medication."),
        Parameter("location", "in", 0, "1", "Reference", "The Location."),
        Parameter("expiring", "in", 0, "1", "integer", "Only lots expiring within this many days."),
        Parameter("_count", "in", 0, "1", "integer", "At most this many rows (default 500, at most 5000)."),
        Parameter(
            "stock",
            "out",
            0,
            "*",
            None,
            "One lot at one location: product, lot, lotNumber, expirationDate, recalled, location, onHand.",
        ),  # fmt: skip
    ),
    handler=on_hand,
)
MOVEMENTS = Operation(
    code="stock-movements",
    id="Medication-stock-movements",
    title="Stock movements",
    description="The entries of the stock ledger, newest first, by product, lot, location or patient.",
    levels=(TYPE,),
    resource_types=("Medication",),
    affects_state=False,
    parameters=(
        Parameter("product", "in", 0, "1", "Reference", "The product Medication."),
        Parameter("lot", "in", 0, "1", "Reference", "The lot Medication."),
        Parameter("location", "in", 0, "1", "Reference", "The Location."),
        Parameter("patient", "in", 0, "1", "Reference", "The Patient."),
        Parameter("_count", "in", 0, "1", "integer", "At most this many entries (default 500, at most 5000)."),
        _ENTRIES,
    ),
    handler=movements,
)
TRANSFER = Operation(
    code="stock-transfer",
    id="Medication-stock-transfer",
    title="Transfer stock",
    description="Move units of a lot between two locations (two ledger entries, in one transaction). " + _LOT_AT,
    levels=(INSTANCE,),
    resource_types=("Medication",),
    affects_state=True,
    parameters=(
        Parameter("from", "in", 1, "1", "Reference", "The Location the units leave."),
        Parameter("to", "in", 1, "1", "Reference", "The Location the units go to."),
        _QUANTITY,
        Parameter("note", "in", 0, "1", "string", "Why."),
        _ENTRIES,
    ),
    handler=transfer,
)
ADJUST = Operation(
    code="stock-adjust",
    id="Medication-stock-adjust",
    title="Adjust stock",
    description="Correct the on-hand of a lot at a location, with a reason (count, damage, expiry). " + _LOT_AT,
    levels=(INSTANCE,),
    resource_types=("Medication",),
    affects_state=True,
    parameters=(
        Parameter("location", "in", 1, "1", "Reference", "The Location."),
        Parameter("quantity", "in", 1, "1", "decimal", "The change: negative takes units out."),
        Parameter("reason", "in", 1, "1", "code", "count | damage | expiry"),
        _ENTRIES,
    ),
    handler=adjust,
)
RETURN_TO_VENDOR = Operation(
    code="stock-return",
    id="Medication-stock-return",
    title="Return stock to the vendor",
    description="Take units of a lot out of a location, back to its vendor. " + _LOT_AT,
    levels=(INSTANCE,),
    resource_types=("Medication",),
    affects_state=True,
    parameters=(
        Parameter("location", "in", 1, "1", "Reference", "The Location."),
        _QUANTITY,
        Parameter("supplier", "in", 0, "1", "Reference", "The vendor Organization."),
        Parameter("note", "in", 0, "1", "string", "Why."),
        _ENTRIES,
    ),
    handler=return_to_vendor,
)
RECALL = Operation(
    code="recall",
    id="Medication-recall",
    title="Recall a lot",
    description="Mark a lot recalled (status inactive, the stock-recalled extension): it is never dispensed or "
    "administered again. Answers the patients who received it (net of corrections). " + _LOT_AT,
    levels=(INSTANCE,),
    resource_types=("Medication",),
    affects_state=True,
    parameters=(
        Parameter("lot", "out", 1, "1", "Reference", "The lot."),
        Parameter("patient", "out", 0, "*", None, "A patient who received it: reference, name, quantity."),
    ),
    handler=recall,
)
REORDER_POINT = Operation(
    code="reorder-point",
    id="Medication-reorder-point",
    title="Set a reorder point",
    description="The on-hand of a product at a location at or below which an alert is raised (once per "
    "crossing). Without `point` the reorder point is removed.",
    levels=(INSTANCE,),
    resource_types=("Medication",),
    affects_state=True,
    parameters=(
        Parameter("location", "in", 1, "1", "Reference", "The Location."),
        Parameter("point", "in", 0, "1", "decimal", "The reorder point (zero or more)."),
    ),
    handler=reorder_point,
)
DISPENSE = Operation(
    code="dispense",
    id="MedicationDispense-dispense",
    title="Dispense from stock",
    description="Write a completed MedicationDispense from stock: the lot is chosen first-expiry-first-out among "
    "the lots at the location that hold the quantity and are neither expired nor recalled, unless `medication` "
    "names a lot. With `prescription`, the patient, directions and days' supply (and the quantity, unless given) "
    "come from the MedicationRequest, which the dispense may not exceed (quantity per fill, refills).",
    levels=(TYPE,),
    resource_types=("MedicationDispense",),
    affects_state=True,
    parameters=(
        Parameter("medication", "in", 0, "1", "Reference", "The product (or a lot); default: the prescription's."),
        Parameter("location", "in", 1, "1", "Reference", "The Location dispensed from."),
        Parameter("quantity", "in", 0, "1", "decimal", "How many units; default: the prescription's per fill."),
        Parameter("prescription", "in", 0, "1", "Reference", "The MedicationRequest authorizing it."),
        Parameter("patient", "in", 0, "1", "Reference", "The Patient; default: the prescription's."),
        Parameter("performer", "in", 0, "1", "Reference", "The Practitioner dispensing."),
        Parameter("dispense", "out", 1, "1", "MedicationDispense", "The dispense written."),
        Parameter("refillsRemaining", "out", 0, "1", "integer", "Refills the prescription has left."),
    ),
    handler=dispense_from_stock,
)
LABEL = Operation(
    code="label",
    id="MedicationDispense-label",
    title="Dispense label",
    description="The label of a dispense from stock as a PDF (patient, drug, directions, quantity, lot, expiry, date).",
    levels=(INSTANCE,),
    resource_types=("MedicationDispense",),
    affects_state=False,
    parameters=(Parameter("return", "out", 1, "1", "Binary", "The label (application/pdf)."),),
    handler=label,
)

STOCK_OPERATIONS = (ON_HAND, MOVEMENTS, TRANSFER, ADJUST, RETURN_TO_VENDOR, RECALL, REORDER_POINT, DISPENSE, LABEL)
