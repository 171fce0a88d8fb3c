"""The safety checks run at signing (and by the CDS Hooks service): drug–allergy, drug–drug interaction,
duplicate therapy and dose range, each finding a DetectedIssue. https://hl7.org/fhir/R4/detectedissue.html

What is compared: the prescription's ingredients (medication.py) against the patient's AllergyIntolerances
(not refuted, not inactive or resolved) and the ingredients of their active or on-hold MedicationRequests
and active MedicationStatements (the request itself and the prescription it renews left out), with the
knowledge base of knowledge.py. Medications the knowledge base does not know are not compared.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...engine.identity import format_instant
from ...i18n import _
from ...storage import ResourceStore
from .dosage import daily_mg
from .knowledge import RXNORM, Knowledge
from .lookup import find
from .medication import Prescribed, UnknownMedication, resolve_medication

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ALLERGY, INTERACTION, DUPLICATE, HIGH_DOSE = "ALGY", "DRG", "DUPTHPY", "DOSEH"
_DISPLAY = {ALLERGY: "Allergy Alert", INTERACTION: "Drug Interaction Alert", DUPLICATE: "Duplicate Therapy Alert",
            HIGH_DOSE: "High Dose Alert"}  # fmt: skip
_INACTIVE_ALLERGY = {"inactive", "resolved", "refuted", "entered-in-error"}


@dataclass
class Finding:
    """One problem the checks found, before it becomes a DetectedIssue."""

    code: str
    severity: str
    detail: str
    implicated: list[str] = field(default_factory=list)
    source: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def blocking(self) -> bool:
        return self.severity == "high"


@dataclass(frozen=True)
class Other:
    """An active medication of the patient: its reference and what it contains."""

    reference: str
    display: str
    ingredients: frozenset[str]


def _status_code(value: Any) -> str:
    for coding in (value or {}).get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return ""


async def _allergies(store: ResourceStore, patient: str) -> list[Mapping[str, Any]]:
    return current_allergies(await find(store, "AllergyIntolerance", [("patient", patient)], 500))


def current_allergies(found: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The allergies of `found` that count: not refuted, entered in error, inactive or resolved."""
    return [a for a in found if not {_status_code(a.get("clinicalStatus")), _status_code(a.get("verificationStatus"))}
            & _INACTIVE_ALLERGY]  # fmt: skip


async def active_medications(
    knowledge: Knowledge, store: ResourceStore, patient: str, leave_out: set[str]
) -> list[Other]:
    """The patient's current medications the knowledge base can compare."""
    requests, statements = await asyncio.gather(
        find(store, "MedicationRequest", [("patient", patient), ("status", "active,on-hold")], 500),
        find(store, "MedicationStatement", [("patient", patient), ("status", "active")], 500),
    )  # two searches at once: the signing waits for the slower, not for both
    return await comparable(knowledge, store, [*requests, *statements], leave_out)


async def comparable(
    knowledge: Knowledge, store: ResourceStore, medications: Sequence[Mapping[str, Any]], leave_out: set[str]
) -> list[Other]:
    """The MedicationRequests and MedicationStatements of `medications` the knowledge base can compare."""
    out = []
    for resource in medications:
        reference = f"{resource['resourceType']}/{resource['id']}"
        if reference in leave_out:
            continue
        try:
            prescribed = await resolve_medication(knowledge, store, resource)
        except UnknownMedication:
            continue
        if prescribed.strengths:
            out.append(Other(reference, prescribed.display, frozenset(prescribed.strengths)))
    return out


def _allergy_findings(
    knowledge: Knowledge, prescribed: Prescribed, allergies: Sequence[Mapping[str, Any]]
) -> list[Finding]:
    findings = []
    mine = set(prescribed.strengths)
    for allergy in allergies:
        concepts = [allergy.get("code"), *((r or {}).get("substance") for r in allergy.get("reaction") or [])]
        codes = {str(c.get("code")) for concept in concepts for c in (concept or {}).get("coding") or []
                 if c.get("system") == RXNORM and c.get("code")}  # fmt: skip
        reference = f"AllergyIntolerance/{allergy['id']}"
        exact = mine & codes
        by_class = {i for i in mine for code in codes
                    if knowledge.allergy_class_codes.get(code) in knowledge.ingredient_classes.get(i, ())}  # fmt: skip
        if exact or by_class:
            names = ", ".join(sorted(knowledge.ingredients.get(i, i) for i in exact | by_class))
            findings.append(Finding(ALLERGY, "high", _("The patient is allergic to {ingredient} ({drug}).").format(
                ingredient=names, drug=prescribed.display), [reference]))  # fmt: skip
            continue
        shared = {
            c
            for i in mine
            for code in codes
            for c in knowledge.ingredient_classes.get(i, ())
            if c in knowledge.allergy_class_codes.values() and c in knowledge.ingredient_classes.get(code, ())
        }
        if shared:
            names = ", ".join(sorted(knowledge.classes[c] for c in shared))
            findings.append(Finding(ALLERGY, "moderate", _("Possible cross-sensitivity: the patient is allergic to "
                "another drug of the same class ({drug_class}).").format(drug_class=names), [reference]))  # fmt: skip
    return findings


def _interaction_findings(knowledge: Knowledge, prescribed: Prescribed, others: Sequence[Other]) -> list[Finding]:
    mine = set().union(*(knowledge.tags(i) for i in prescribed.strengths)) if prescribed.strengths else set()
    findings = []
    for other in others:
        theirs = set().union(*(knowledge.tags(i) for i in other.ingredients))
        for pair in knowledge.interactions:
            if (pair.a in mine and pair.b in theirs) or (pair.b in mine and pair.a in theirs):
                detail = _("{summary} ({drug} with {other}).").format(
                    summary=pair.summary.rstrip("."), drug=prescribed.display, other=other.display
                )
                findings.append(Finding(INTERACTION, pair.severity, detail, [other.reference],
                                        knowledge.sources.get(pair.source)))  # fmt: skip
    return findings


def _duplicate_findings(knowledge: Knowledge, prescribed: Prescribed, others: Sequence[Other]) -> list[Finding]:
    mine = set(prescribed.strengths)
    my_classes = {c for i in mine for c in knowledge.ingredient_classes.get(i, ()) if c in knowledge.duplicate_classes}
    findings = []
    for other in others:
        same = mine & other.ingredients
        if same:
            names = ", ".join(sorted(knowledge.ingredients.get(i, i) for i in same))
            findings.append(Finding(DUPLICATE, "moderate", _("Duplicate therapy: {other} also contains {ingredient}.")
                                    .format(other=other.display, ingredient=names), [other.reference]))  # fmt: skip
            continue
        shared = my_classes & {c for i in other.ingredients for c in knowledge.ingredient_classes.get(i, ())}
        if shared:
            names = ", ".join(sorted(knowledge.classes[c] for c in shared))
            findings.append(Finding(DUPLICATE, "moderate", _("Duplicate therapy: {other} is of the same class "
                                    "({drug_class}).").format(other=other.display, drug_class=names),
                                    [other.reference]))  # fmt: skip
    return findings


def _mg(amount: Decimal) -> str:
    """An amount of mg as plain digits, at most two decimals (5000, not 5E+3)."""
    return format(round(amount, 2).normalize(), "f")


def _dose_findings(knowledge: Knowledge, prescribed: Prescribed, request: Mapping[str, Any]) -> list[Finding]:
    findings = []
    for dosage in request.get("dosageInstruction") or []:
        for ingredient, strength in prescribed.strengths.items():
            limit = knowledge.dose_ranges.get(ingredient)
            amounts = daily_mg(dosage, strength) if limit is not None else None
            if limit is None or amounts is None:
                continue
            single, daily = amounts
            name = knowledge.ingredients.get(ingredient, ingredient)
            source = knowledge.sources.get(limit.source)
            if limit.max_single_mg is not None and single > limit.max_single_mg:
                findings.append(Finding(HIGH_DOSE, "high", _("A dose of {dose} mg of {ingredient} is above the "
                    "maximum single dose of {limit} mg.").format(dose=_mg(single), ingredient=name,
                    limit=_mg(limit.max_single_mg)), [], source))  # fmt: skip
            if limit.max_daily_mg is not None and daily > limit.max_daily_mg:
                findings.append(Finding(HIGH_DOSE, "high", _("{dose} mg of {ingredient} a day is above the maximum "
                    "daily dose of {limit} mg.").format(dose=_mg(daily), ingredient=name,
                    limit=_mg(limit.max_daily_mg)), [], source))  # fmt: skip
    return findings


async def run_checks(
    knowledge: Knowledge,
    store: ResourceStore,
    request: Mapping[str, Any],
    prescribed: Prescribed,
    others: Sequence[Other] | None = None,
    allergies: Sequence[Mapping[str, Any]] | None = None,
) -> list[Finding]:
    """Every finding for `request` (a MedicationRequest for a Patient), in check order.

    `others`, `allergies`: the patient's active medications and current allergies when the caller has them
    (the CDS Hooks service's prefetch); otherwise they are read from the store.
    """
    patient = str((request.get("subject") or {}).get("reference", ""))
    leave_out = {f"MedicationRequest/{request.get('id')}"}
    prior = (request.get("priorPrescription") or {}).get("reference")
    if prior:
        leave_out.add(str(prior))
    if others is None and allergies is None:
        others, allergies = await asyncio.gather(
            active_medications(knowledge, store, patient, leave_out), _allergies(store, patient)
        )
    if others is None:
        others = await active_medications(knowledge, store, patient, leave_out)
    if allergies is None:
        allergies = await _allergies(store, patient)
    return [
        *_allergy_findings(knowledge, prescribed, allergies),
        *_interaction_findings(knowledge, prescribed, others),
        *_duplicate_findings(knowledge, prescribed, others),
        *_dose_findings(knowledge, prescribed, request),
    ]


def detected_issue(
    finding: Finding, request: str, patient: str, when: datetime, override: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The DetectedIssue of `finding` about `request`; `override`: (prescriber, reason) when signed over it."""
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": finding.id,
        "status": "final",
        "code": {"coding": [{"system": ACT_CODE, "code": finding.code, "display": _DISPLAY[finding.code]}]},
        "severity": finding.severity,
        "patient": {"reference": patient},
        "identifiedDateTime": format_instant(when),
        "implicated": [{"reference": request}, *({"reference": r} for r in finding.implicated)],
        "detail": finding.detail,
    }
    if finding.source:
        issue["reference"] = _doi(finding.source)
    if override is not None:
        author, reason = override
        issue["mitigation"] = [{"action": {"text": _("Overridden by the prescriber: {reason}").format(reason=reason)},
                                "date": format_instant(when), "author": {"reference": author}}]  # fmt: skip
    return issue


def _doi(source: str) -> str:
    """The source's DOI as a URL when it cites one, else its first https URL, else a urn naming the
    knowledge base."""
    marker = "doi:"
    if marker in source:
        doi = source.split(marker, 1)[1].split()[0].rstrip(".,")
        return f"https://doi.org/{doi}"
    urls = [word.strip("(),;") for word in source.split() if word.strip("(").startswith("https://")]
    return urls[0] if urls else "urn:fhir-server:prescribing-knowledge-base"
