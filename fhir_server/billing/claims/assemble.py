"""A professional Claim assembled from an encounter: its charges, diagnoses, providers and coverage.

- lines: the encounter's billable ChargeItems (ChargeItem.context), in entry order: code, modifiers
  (ChargeItem extension codes.MODIFIER), units (quantity), price (priceOverride: the line's net),
  service date, diagnosis pointers from ChargeItem.reason (in order);
- diagnoses: the encounter's (Encounter.diagnosis by rank) then any a line points at that the
  encounter did not list, numbered 1.. in that order;
- billing provider: Encounter.serviceProvider; rendering provider: the first Practitioner
  participant (taxonomy from Practitioner.qualification in the NUCC system);
- place of service: a CMS POS coding on the encounter's first Location's type, else from
  Encounter.class (AMB 11 office, VR 02 telehealth, HH 12 home, EMER 23, IMP 21);
- insurance: the patient's active coverages in force on the visit's day, by Coverage.order; insurer:
  the first payor of the focal (first) one, which the payer's 835 is matched and posted by.

Nothing is checked here: checks.py lists what is missing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ...auth.policy import AccessPolicy
from ...engine.identity import format_instant, now
from ...storage import ResourceStore
from ..charges.capture import coverage_order
from ..charges.money import money_value
from ..codes import CLAIM_TYPE, ICD10CM, MODIFIER, PLACE_OF_SERVICE, TAXONOMY
from ..dates import day_of, in_period
from ..references import reference_of, resolve
from ..search import find

MAX_CHARGES = 200
"""Charges of one visit read (a claim takes 50 lines: checks.py refuses more)."""
POS_BY_CLASS = {"AMB": "11", "VR": "02", "HH": "12", "EMER": "23", "IMP": "21", "ACUTE": "21", "OBSENC": "22"}
CHARGE_ITEM = "urn:fhir-server:charge-item"
"""Claim.item extension (valueReference): the ChargeItem the line bills."""


def _icd_key(concept: Any) -> str | None:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("system") == ICD10CM and coding.get("code"):
            return str(coding["code"])
    return None


async def _encounter_diagnoses(store: ResourceStore, encounter: dict[str, Any]) -> list[str]:
    ranked = sorted(
        encounter.get("diagnosis") or [], key=lambda d: d["rank"] if isinstance(d.get("rank"), int) else 1_000
    )
    codes = []
    for diagnosis in ranked:
        condition = await resolve(store, reference_of(diagnosis.get("condition")), "Condition")
        code = _icd_key((condition or {}).get("code"))
        if code and code not in codes:
            codes.append(code)
    return codes


async def _place_of_service(store: ResourceStore, encounter: dict[str, Any]) -> str | None:
    for entry in encounter.get("location") or []:
        location = await resolve(store, reference_of(entry.get("location")), "Location")
        for concept in (location or {}).get("type") or []:
            for coding in concept.get("coding") or []:
                if coding.get("system") == PLACE_OF_SERVICE and coding.get("code"):
                    return str(coding["code"])
    return POS_BY_CLASS.get((encounter.get("class") or {}).get("code") or "")


async def _care_team(store: ResourceStore, encounter: dict[str, Any]) -> list[dict[str, Any]]:
    for participant in encounter.get("participant") or []:
        reference = reference_of(participant.get("individual"))
        if reference and reference.startswith("Practitioner/"):
            member: dict[str, Any] = {"sequence": 1, "provider": {"reference": reference}}
            person = await resolve(store, reference, "Practitioner")
            for qualification in (person or {}).get("qualification") or []:
                codings = [
                    c for c in (qualification.get("code") or {}).get("coding") or [] if c.get("system") == TAXONOMY
                ]
                if codings:
                    member["qualification"] = {"coding": codings[:1]}
                    break
            return [member]
    return []


def _line(sequence: int, charge: dict[str, Any], diagnoses: list[str], pos: str | None) -> dict[str, Any]:
    pointers = []
    for reason in charge.get("reason") or []:
        code = _icd_key(reason)
        if code:
            if code not in diagnoses:
                diagnoses.append(code)
            pointers.append(diagnoses.index(code) + 1)
    modifiers = [
        e["valueCoding"] for e in charge.get("extension") or [] if e.get("url") == MODIFIER and e.get("valueCoding")
    ]
    item: dict[str, Any] = {
        "extension": [{"url": CHARGE_ITEM, "valueReference": {"reference": f"ChargeItem/{charge['id']}"}}],
        "sequence": sequence,
        "productOrService": charge.get("code") or {},
        "quantity": charge.get("quantity") or {"value": 1},
    }
    if pointers:
        item["diagnosisSequence"] = pointers
    if modifiers:
        item["modifier"] = [{"coding": [m]} for m in modifiers]
    if charge.get("occurrenceDateTime"):
        item["servicedDate"] = str(charge["occurrenceDateTime"])[:10]
    if pos:
        item["locationCodeableConcept"] = {"coding": [{"system": PLACE_OF_SERVICE, "code": pos}]}
    if charge.get("priceOverride"):
        item["net"] = charge["priceOverride"]
    return item


async def assemble_claim(store: ResourceStore, policy: AccessPolicy, encounter: dict[str, Any]) -> dict[str, Any]:
    """The Claim (not stored) for `encounter`."""
    reference = f"Encounter/{encounter['id']}"
    patient = reference_of(encounter.get("subject")) or ""
    found = await find(store, policy, "ChargeItem", [("context", reference)], MAX_CHARGES)
    charges = [charge for charge in found if charge.get("status") == "billable"]  # R4 has no status search
    charges.sort(key=lambda c: (str(c.get("enteredDate") or ""), c["id"]))
    diagnoses = await _encounter_diagnoses(store, encounter)
    pos = await _place_of_service(store, encounter)
    items = [_line(n, charge, diagnoses, pos) for n, charge in enumerate(charges, start=1)]
    day = day_of((encounter.get("period") or {}).get("start")) or now().date()
    coverages = await find(store, policy, "Coverage", [("beneficiary", patient), ("status", "active")], 20)
    in_force = sorted((c for c in coverages if in_period(day, c.get("period"))), key=coverage_order)
    nets = [money_value(item.get("net")) for item in items]
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
        "use": "claim",
        "patient": {"reference": patient},
        "billablePeriod": {"start": day.isoformat(), "end": day.isoformat()},
        "created": format_instant(now()),
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "careTeam": await _care_team(store, encounter),
        "diagnosis": [
            {"sequence": n, "diagnosisCodeableConcept": {"coding": [{"system": ICD10CM, "code": code}]}}
            for n, code in enumerate(diagnoses, start=1)
        ],
        "insurance": [
            {"sequence": n, "focal": n == 1, "coverage": {"reference": f"Coverage/{c['id']}"}}
            for n, c in enumerate(in_force, start=1)
        ],
        "item": [{**item, "encounter": [{"reference": reference}]} for item in items],
    }
    insurer = next((reference_of(p) for c in in_force[:1] for p in c.get("payor") or []), None)
    if insurer:
        claim["insurer"] = {"reference": insurer}
    provider = reference_of(encounter.get("serviceProvider"))
    if provider:
        claim["provider"] = {"reference": provider}
    if items and all(net is not None for net in nets):
        currency = items[0]["net"].get("currency")
        claim["total"] = {"value": sum((n for n in nets if n is not None), Decimal(0)), "currency": currency}
    return {key: value for key, value in claim.items() if value != []}
