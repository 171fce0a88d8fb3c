"""How the dispensary is written in FHIR R4: products, lots, locations and the resources that move stock.

- A **product** is a Medication without `batch` (code, form, `amount` as the strength, and the package in
  the `stock-package` extension, a Quantity).
- A **lot** is a Medication with `batch.lotNumber` and `batch.expirationDate`, the product's `code`, its
  `manufacturer`, and two extensions: `stock-product` (Reference to the product) and `stock-unit-cost`
  (Money). A recalled lot carries `stock-recalled` (dateTime) and status `inactive`.
- A **stock location** is any Location (a pharmacy room, a vaccine fridge).
- Stock moves when one of these is stored (or changed, or deleted), each naming a lot and a location:
  a SupplyDelivery `completed` with `suppliedItem.itemReference` a lot and a `destination` (a receipt, +);
  a MedicationDispense `completed` with `medicationReference` a lot and a `location` (a dispense, -);
  a MedicationAdministration `completed` with `medicationReference` a lot and the `stock-location`
  extension (given from stock, -; the quantity is `dosage.dose`). Other versions of these types (another
  status, a code instead of a lot, no location) do not touch stock: e.g. a dispense reported by an
  outside pharmacy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

BASE = "https://fhir-server.org/fhir/StructureDefinition/"
PRODUCT = BASE + "stock-product"
UNIT_COST = BASE + "stock-unit-cost"
RECALLED = BASE + "stock-recalled"
PACKAGE = BASE + "stock-package"
STOCK_LOCATION = BASE + "stock-location"

RECEIPT, DISPENSE, ADMINISTRATION = "receipt", "dispense", "administration"
TRANSFER_OUT, TRANSFER_IN, RETURN, ADJUSTMENT = "transfer-out", "transfer-in", "return", "adjustment"
ADJUSTMENT_REASONS = ("count", "damage", "expiry")


def extension(resource: dict[str, Any], url: str) -> dict[str, Any] | None:
    """The first extension of `resource` with `url`, or None."""
    for item in resource.get("extension") or ():
        if isinstance(item, dict) and item.get("url") == url:
            return item
    return None


def reference_of(value: Any) -> str | None:
    """`Type/id` of a Reference value, None when there is none."""
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return str(value["reference"])
    return None


@dataclass(frozen=True)
class Lot:
    """A lot as read from its Medication."""

    reference: str
    product: str
    number: str
    expiry: date | None
    recalled: bool
    codes: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, medication: dict[str, Any]) -> Lot | None:
        """The lot a Medication is, None when it is not one (no batch lot number or no product)."""
        batch = medication.get("batch") or {}
        product = reference_of((extension(medication, PRODUCT) or {}).get("valueReference"))
        if not isinstance(batch, dict) or not batch.get("lotNumber") or product is None:
            return None
        expiry = None
        if isinstance(batch.get("expirationDate"), str):
            expiry = date.fromisoformat(batch["expirationDate"][:10])
        recalled = extension(medication, RECALLED) is not None
        reference, codes = f"Medication/{medication['id']}", codes_of(medication.get("code"))
        return cls(reference, product, str(batch["lotNumber"]), expiry, recalled, codes)

    def expired(self, today: date) -> bool:
        return self.expiry is not None and self.expiry < today


@dataclass(frozen=True)
class Movement:
    """What one stored version moves: `quantity` (> 0 for a valid one) of `lot` out of or into `location`.

    The paths are the FHIRPath of the elements, to name them in a refusal.
    """

    kind: str
    sign: int
    lot: str
    location: str
    quantity: Any
    lot_path: str
    location_path: str
    quantity_path: str
    patient: str | None = None
    prescription: str | None = None


def movement(resource: dict[str, Any] | None) -> Movement | None:
    """The stock movement of a version (None: a deletion, or a version that moves no stock)."""
    if resource is None or resource.get("status") != "completed":
        return None
    kind = resource.get("resourceType")
    if kind == "SupplyDelivery":
        item = resource.get("suppliedItem") or {}
        lot, location = reference_of(item.get("itemReference")), reference_of(resource.get("destination"))
        if _is_medication(lot) and location:
            quantity = (item.get("quantity") or {}).get("value")
            return Movement(RECEIPT, 1, str(lot), location, quantity, "SupplyDelivery.suppliedItem.itemReference",
                            "SupplyDelivery.destination", "SupplyDelivery.suppliedItem.quantity.value")  # fmt: skip
    elif kind == "MedicationDispense":
        lot, location = reference_of(resource.get("medicationReference")), reference_of(resource.get("location"))
        if _is_medication(lot) and location:
            prescriptions = resource.get("authorizingPrescription") or []
            return Movement(
                DISPENSE, -1, str(lot), location, (resource.get("quantity") or {}).get("value"),
                "MedicationDispense.medicationReference", "MedicationDispense.location",
                "MedicationDispense.quantity.value", reference_of(resource.get("subject")),
                reference_of(prescriptions[0]) if prescriptions else None,
            )  # fmt: skip
    elif kind == "MedicationAdministration":
        lot = reference_of(resource.get("medicationReference"))
        location = reference_of((extension(resource, STOCK_LOCATION) or {}).get("valueReference"))
        if _is_medication(lot) and location:
            dose = ((resource.get("dosage") or {}).get("dose") or {}).get("value")
            return Movement(
                ADMINISTRATION, -1, str(lot), location, dose, "MedicationAdministration.medicationReference",
                f"MedicationAdministration.extension('{STOCK_LOCATION}')", "MedicationAdministration.dosage.dose.value",
                reference_of(resource.get("subject")),
            )  # fmt: skip
    return None


def codes_of(concept: Any) -> frozenset[tuple[str, str]]:
    """The (system, code) pairs of a CodeableConcept."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return frozenset(
        (str(c.get("system")), str(c["code"])) for c in codings or () if isinstance(c, dict) and c.get("code")
    )


def _is_medication(reference: str | None) -> bool:
    return reference is not None and reference.startswith("Medication/")


def positive_quantity(value: Any) -> Decimal | None:
    """`value` as a Decimal when it is a number above zero, else None."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    quantity = Decimal(value)
    return quantity if quantity > 0 else None
