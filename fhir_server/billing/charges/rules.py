"""Charge capture rules: what makes a charge, keyed on plain FHIR fields.

| event | when | code charged |
| --- | --- | --- |
| Encounter finished | status becomes `finished` | the proposed E/M code (em_codes.py) |
| Procedure completed | status becomes `completed` | Procedure.code |
| Immunization recorded | status `completed` on create or on becoming so | Immunization.vaccineCode |
| in-house MedicationDispense | becomes `completed` with `location` set (the practice's dispensary) | medication code |
| lab order sent | ServiceRequest becomes `active` with a laboratory category | ServiceRequest.code |

"Becomes": the new version has the status and the version it replaces had not. The first coding
the fee schedule has is charged (capture.py); a source is charged once whatever happens later.
Imported history (`fhir-server import`, Bulk `$import`: AccessPolicy.historical) is never charged:
those visits were billed where they happened.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ...engine.identity import now
from ...engine.rules import WriteContext, write_rule
from ..codes import CPT, ICD10CM
from ..dates import day_of
from .capture import Billable, capture
from .em_codes import proposed_em_code
from .money import money_value

LAB_CATEGORIES = {
    ("http://snomed.info/sct", "108252007"),
    ("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory"),
}
MAX_POINTERS = 4


def _became(context: WriteContext, status: str) -> dict[str, Any] | None:
    """The new version when it has `status` and the replaced one had not, else None (always for an import)."""
    new = context.new
    if new is None or context.historical or new.get("status") != status:
        return None
    if (
        context.current is not None
        and not context.current.deleted
        and context.current.resource().get("status") == status
    ):
        return None
    return new


def _patient(reference: Any) -> str | None:
    value = reference.get("reference") if isinstance(reference, dict) else None
    return value if isinstance(value, str) and value.startswith("Patient/") else None


def _reference(value: Any) -> str | None:
    reference = value.get("reference") if isinstance(value, dict) else None
    return reference if isinstance(reference, str) else None


def _codings(concept: Any) -> list[dict[str, Any]]:
    codings = (concept or {}).get("coding") if isinstance(concept, dict) else None
    return [c for c in codings or [] if isinstance(c, dict) and c.get("code")]


def _day(*texts: Any) -> date:
    for text in texts:
        day = day_of(text)
        if day is not None:
            return day
    return now().date()


def _icd(concepts: Any) -> list[dict[str, Any]]:
    """The ICD-10-CM concepts of `concepts`, at most MAX_POINTERS: a charge's diagnosis pointers."""
    kept = [{"coding": [c]} for concept in concepts or [] for c in _codings(concept) if c.get("system") == ICD10CM]
    return kept[:MAX_POINTERS]


async def _encounter_diagnoses(context: WriteContext, encounter: dict[str, Any]) -> list[dict[str, Any]]:
    """The ICD-10-CM codes of the encounter's diagnoses, by rank."""
    ranked = sorted(
        encounter.get("diagnosis") or [], key=lambda d: d.get("rank") if isinstance(d.get("rank"), int) else 1_000
    )
    concepts = []
    for diagnosis in ranked:
        reference = _reference(diagnosis.get("condition"))
        if reference and reference.startswith("Condition/"):
            stored = await context.store.get("Condition", reference.split("/", 1)[1])
            if stored is not None and not stored.deleted:
                concepts.append(stored.resource().get("code"))
    return _icd(concepts)


@write_rule("charge-finished-encounter", ["Encounter"], ["create", "update", "patch"])
async def charge_finished_encounter(context: WriteContext) -> None:
    encounter = _became(context, "finished")
    patient = _patient((encounter or {}).get("subject"))
    code = proposed_em_code(encounter) if encounter else None
    if encounter is None or patient is None or code is None:
        return
    performer = next(
        (
            r
            for p in encounter.get("participant") or []
            if (r := _reference(p.get("individual"))) and r.startswith("Practitioner/")
        ),
        None,
    )
    period = encounter.get("period") or {}
    source = f"Encounter/{context.resource_id}"
    billable = Billable(
        source=source,
        patient=patient,
        codings=[{"system": CPT, "code": code}],
        day=_day(period.get("start"), period.get("end")),
        encounter=source,
        performer=performer,
        reasons=await _encounter_diagnoses(context, encounter),
        service=False,
    )
    await capture(context, billable)


def _performer(resource: dict[str, Any]) -> str | None:
    for performer in resource.get("performer") or []:
        reference = _reference(performer.get("actor"))
        if reference and reference.startswith("Practitioner/"):
            return reference
    return None


@write_rule("charge-completed-procedure", ["Procedure"], ["create", "update", "patch"])
async def charge_completed_procedure(context: WriteContext) -> None:
    procedure = _became(context, "completed")
    patient = _patient((procedure or {}).get("subject"))
    if procedure is None or patient is None or not _codings(procedure.get("code")):
        return
    period = procedure.get("performedPeriod") or {}
    billable = Billable(
        source=f"Procedure/{context.resource_id}",
        patient=patient,
        codings=_codings(procedure.get("code")),
        day=_day(procedure.get("performedDateTime"), period.get("start")),
        encounter=_reference(procedure.get("encounter")),
        performer=_performer(procedure),
        reasons=_icd(procedure.get("reasonCode")),
    )
    await capture(context, billable)


@write_rule("charge-immunization", ["Immunization"], ["create", "update", "patch"])
async def charge_immunization(context: WriteContext) -> None:
    immunization = _became(context, "completed")
    patient = _patient((immunization or {}).get("patient"))
    if immunization is None or patient is None or not _codings(immunization.get("vaccineCode")):
        return
    billable = Billable(
        source=f"Immunization/{context.resource_id}",
        patient=patient,
        codings=_codings(immunization.get("vaccineCode")),
        day=_day(immunization.get("occurrenceDateTime"), immunization.get("recorded")),
        encounter=_reference(immunization.get("encounter")),
        performer=_performer(immunization),
        reasons=_icd(immunization.get("reasonCode")),
    )
    await capture(context, billable)


def _quantity(dispense: dict[str, Any]) -> Decimal:
    value = money_value(dispense.get("quantity"))  # a Quantity's value reads as Money's does
    return value if value is not None and value > 0 else Decimal(1)


@write_rule("charge-in-house-dispense", ["MedicationDispense"], ["create", "update", "patch"])
async def charge_in_house_dispense(context: WriteContext) -> None:
    dispense = _became(context, "completed")
    patient = _patient((dispense or {}).get("subject"))
    if dispense is None or patient is None or not dispense.get("location"):
        return
    codings = _codings(dispense.get("medicationCodeableConcept"))
    if not codings:
        return
    billable = Billable(
        source=f"MedicationDispense/{context.resource_id}",
        patient=patient,
        codings=codings,
        day=_day(dispense.get("whenHandedOver"), dispense.get("whenPrepared")),
        encounter=_reference(dispense.get("context")),
        quantity=_quantity(dispense),
        performer=_performer(dispense),
    )
    await capture(context, billable)


def _is_lab(request: dict[str, Any]) -> bool:
    return any(
        (c.get("system"), c.get("code")) in LAB_CATEGORIES
        for concept in request.get("category") or []
        for c in _codings(concept)
    )


@write_rule("charge-sent-lab-order", ["ServiceRequest"], ["create", "update", "patch"])
async def charge_sent_lab_order(context: WriteContext) -> None:
    request = _became(context, "active")
    patient = _patient((request or {}).get("subject"))
    if request is None or patient is None or not _is_lab(request) or not _codings(request.get("code")):
        return
    billable = Billable(
        source=f"ServiceRequest/{context.resource_id}",
        patient=patient,
        codings=_codings(request.get("code")),
        day=_day(request.get("occurrenceDateTime"), request.get("authoredOn")),
        encounter=_reference(request.get("encounter")),
        reasons=_icd(request.get("reasonCode")),
        service=False,
    )
    await capture(context, billable)
