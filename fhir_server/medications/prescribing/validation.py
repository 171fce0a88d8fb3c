"""What a prescription must hold: a known coded medication, a structured dosage, a quantity above 0, a
days' supply above 0, refills (numberOfRepeatsAllowed) and a renewal's prior prescription. A draft is
checked for what it holds; the version `$sign` signs must hold all of it (`complete`)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ...errors import Issue, Unprocessable
from ...i18n import _
from ...storage import ResourceStore
from .dosage import dosage_problem
from .knowledge import Knowledge
from .life_cycle import is_signed
from .lookup import read_reference
from .medication import Prescribed, UnknownMedication, resolve_medication

_QUANTITY = "MedicationRequest.dispenseRequest.quantity.value"
_SUPPLY = "MedicationRequest.dispenseRequest.expectedSupplyDuration.value"


def _refuse(message: str, expression: str) -> Unprocessable:
    return Unprocessable(message, issues=[Issue("error", "processing", message, expression)])


def _positive(value: Any) -> bool:
    try:
        return Decimal(str(value)) > 0 and not isinstance(value, bool)
    except InvalidOperation:
        return False


def _check_dispense(request: Mapping[str, Any], complete: bool) -> None:
    dispense = request.get("dispenseRequest") or {}
    quantity = dispense.get("quantity")
    if quantity is None and complete:
        raise _refuse(_("A prescription needs a quantity to dispense."), _QUANTITY)
    if quantity is not None and not _positive((quantity or {}).get("value")):
        raise _refuse(_("The quantity to dispense must be greater than 0."), _QUANTITY)
    supply = dispense.get("expectedSupplyDuration")
    if supply is not None and not _positive((supply or {}).get("value")):
        raise _refuse(_("The days' supply must be greater than 0."), _SUPPLY)


def _check_dosage(request: Mapping[str, Any], complete: bool) -> None:
    dosages = request.get("dosageInstruction") or []
    if not dosages and complete:
        raise _refuse(_("A prescription needs a structured dosage instruction."), "MedicationRequest.dosageInstruction")
    for index, dosage in enumerate(dosages):
        problem = dosage_problem(dosage, f"MedicationRequest.dosageInstruction[{index}]")
        if problem is not None:
            raise _refuse(*problem)


async def _check_prior(store: ResourceStore, request: Mapping[str, Any]) -> None:
    prior = request.get("priorPrescription")
    if prior is None:
        return
    reference = str((prior or {}).get("reference", ""))
    found = await read_reference(store, reference) if reference.startswith("MedicationRequest/") else None
    if found is None or not is_signed(found):
        raise _refuse(_("A renewal's prior prescription must be a signed MedicationRequest of this server."),
                      "MedicationRequest.priorPrescription")  # fmt: skip
    if (found.get("subject") or {}).get("reference") != (request.get("subject") or {}).get("reference"):
        raise _refuse(_("A renewal must be for the patient of its prior prescription."), "MedicationRequest.subject")


async def check_prescription(
    knowledge: Knowledge,
    store: ResourceStore,
    request: Mapping[str, Any],
    *,
    complete: bool,
    in_commit: Mapping[str, Any] | None = None,
) -> Prescribed | None:
    """The resolved medication (None for a draft without one yet). Raises Unprocessable (422) naming the
    element that is missing or wrong."""
    subject = str((request.get("subject") or {}).get("reference", ""))
    if complete and not subject.startswith("Patient/"):
        raise _refuse(_("A prescription is for a Patient."), "MedicationRequest.subject")
    prescribed = None
    if complete or "medicationCodeableConcept" in request or "medicationReference" in request:
        try:
            prescribed = await resolve_medication(knowledge, store, request, in_commit)
        except UnknownMedication as exc:
            raise _refuse(str(exc), exc.expression) from exc
    _check_dispense(request, complete)
    _check_dosage(request, complete)
    await _check_prior(store, request)
    return prescribed
