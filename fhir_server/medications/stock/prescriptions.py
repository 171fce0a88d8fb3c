"""Dispensing against a prescription: what a MedicationRequest still authorizes.

A MedicationRequest authorizes `1 + dispenseRequest.numberOfRepeatsAllowed` fills (R4: the repeats are
refills after the initial dispense), each of at most `dispenseRequest.quantity`. Every `completed`
MedicationDispense whose `authorizingPrescription` names it is a fill. The count is taken under a lock
per prescription, so two pharmacists filling the last refill at once cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...engine.rules.registry import WriteContext
from ...errors import Unprocessable
from ...i18n import _
from .model import Lot, Movement, codes_of, positive_quantity

_MOST_FILLS = 1000
PRESCRIPTION_PATH = "MedicationDispense.authorizingPrescription[0]"


@dataclass(frozen=True)
class Authorization:
    """What a prescription allows: fills in all, the most per fill (None: not limited), fills so far."""

    fills: int
    per_fill: Decimal | None
    filled: int

    @property
    def refills_left(self) -> int:
        """Refills left after the fills so far (the initial fill is not a refill)."""
        return max(0, self.fills - max(self.filled, 1))


def authorization(request: dict[str, Any], filled: int) -> Authorization:
    """The authorization of `request` after `filled` completed fills."""
    dispense = request.get("dispenseRequest") or {}
    repeats = dispense.get("numberOfRepeatsAllowed")
    per_fill = positive_quantity((dispense.get("quantity") or {}).get("value"))
    return Authorization(1 + (repeats if isinstance(repeats, int) else 0), per_fill, filled)


async def check_prescription(context: WriteContext, moved: Movement, lot: Lot, quantity: Decimal) -> None:
    """Refuse (422, naming the element) a dispense its prescription does not cover."""
    reference = str(moved.prescription)
    await context.lock(f"prescription/{reference}")
    kind, _slash, request_id = reference.partition("/")
    stored = await context.store.get(kind, request_id) if kind == "MedicationRequest" else None
    if stored is None or stored.deleted:
        raise Unprocessable(
            _("There is no prescription {reference}.").format(reference=reference), expression=PRESCRIPTION_PATH
        )
    request = stored.resource()
    if request.get("status") != "active":
        raise Unprocessable(
            _("Prescription {reference} is {status}, not active: it cannot be dispensed.").format(
                reference=reference, status=request.get("status")
            ),
            expression=PRESCRIPTION_PATH,
        )
    _same_medication(request, lot, reference)
    found = await context.find(
        "MedicationDispense", [("prescription", reference), ("status", "completed")], _MOST_FILLS
    )
    fills = [record.id for record in found if record.id != context.resource_id]
    allowed = authorization(request, len(fills))
    if allowed.per_fill is not None and quantity > allowed.per_fill:
        raise Unprocessable(
            _("Prescription {reference} authorizes at most {most} per fill; {quantity} asked.").format(
                reference=reference, most=allowed.per_fill, quantity=quantity
            ),
            expression="MedicationDispense.quantity.value",
        )
    if allowed.filled >= allowed.fills:
        raise Unprocessable(
            _("Prescription {reference} has no refills left: all {fills} fills are dispensed.").format(
                reference=reference, fills=allowed.fills
            ),
            expression=PRESCRIPTION_PATH,
        )


def _same_medication(request: dict[str, Any], lot: Lot, reference: str) -> None:
    """Refuse a lot of another product than the one prescribed (by reference, or by a shared code)."""
    prescribed = (request.get("medicationReference") or {}).get("reference")
    if prescribed is not None:
        matches = prescribed in (lot.product, lot.reference)
    else:
        wanted = codes_of(request.get("medicationCodeableConcept"))
        matches = not wanted or not lot.codes or bool(wanted & lot.codes)
    if not matches:
        raise Unprocessable(
            _("{lot} is not the medication prescribed by {reference}.").format(lot=lot.reference, reference=reference),
            expression="MedicationDispense.medicationReference",
        )
