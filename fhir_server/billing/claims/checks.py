"""What must hold before a professional Claim is queued; every problem is listed, with its FHIRPath.

The same check runs in `Encounter/[id]/$claim` (before anything is written) and as the write rule
on Claim (a Claim posted or edited directly), so a queued claim always passes it:

- a billing provider (Claim.provider) that is an Organization with an NPI, a tax id, an
  address and a phone number (the 837P requires them);
- a rendering provider (Claim.careTeam) that is a Practitioner with an NPI, when given;
- at least one insurance whose Coverage exists and names a payer Organization;
- 1 to 12 diagnoses, each an ICD-10-CM code; 1 to 50 lines;
- per line: a code, a price (net) in the currency of the other lines, a place of service, and 1 to 4
  diagnosis pointers, each pointing at a diagnosis of the claim.
"""

from __future__ import annotations

from typing import Any

from ...errors import Issue
from ...i18n import _
from ...storage import ResourceStore
from ..charges.money import currency_of, money_value
from ..codes import ICD10CM, NPI, TAX_ID
from ..references import identifier, reference_of, resolve
from .read_claim import address_of, phone_of

MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_CLAIM_ID = 38
"""CLM01, the patient control number the 835 answers with: the Claim's id."""
MAX_LINES = 50
"""The 837P's limit of service lines (loop 2400) per claim."""


def _issue(code: str, message: str, expression: str) -> Issue:
    return Issue("error", code, message, expression)


async def _providers(store: ResourceStore, claim: dict[str, Any]) -> list[Issue]:
    issues = []
    billing = await resolve(store, reference_of(claim.get("provider")), "Organization")
    if billing is None:
        issues.append(_issue("required", _("The billing provider must be a stored Organization."), "Claim.provider"))
    else:
        if identifier(billing, NPI) is None:
            issues.append(_issue("required", _("The billing provider has no NPI."), "Claim.provider"))
        if identifier(billing, TAX_ID) is None:
            issues.append(_issue("required", _("The billing provider has no tax id (EIN)."), "Claim.provider"))
        if address_of(billing) is None:
            message = _("The billing provider has no complete address (line, city, state, postal code).")
            issues.append(_issue("required", message, "Claim.provider"))
        if not phone_of(billing):
            issues.append(_issue("required", _("The billing provider has no phone number."), "Claim.provider"))
    for index, member in enumerate(claim.get("careTeam") or []):
        person = await resolve(store, reference_of(member.get("provider")), "Practitioner")
        where = f"Claim.careTeam[{index}].provider"
        if person is None:
            issues.append(_issue("required", _("The rendering provider must be a stored Practitioner."), where))
        elif identifier(person, NPI) is None:
            issues.append(_issue("required", _("The rendering provider has no NPI."), where))
    return issues


async def _insurance(store: ResourceStore, claim: dict[str, Any]) -> list[Issue]:
    insurances = claim.get("insurance") or []
    if not insurances:
        return [_issue("required", _("The claim has no coverage."), "Claim.insurance")]
    issues = []
    for index, insurance in enumerate(insurances):
        coverage = await resolve(store, reference_of(insurance.get("coverage")), "Coverage")
        payors = [reference_of(p) or "" for p in (coverage or {}).get("payor") or []]
        if coverage is None or not any(p.startswith("Organization/") for p in payors):
            message = _("The coverage must be a stored Coverage with a payer Organization.")
            issues.append(_issue("required", message, f"Claim.insurance[{index}].coverage"))
    return issues


def _diagnoses(claim: dict[str, Any]) -> tuple[list[Issue], set[int]]:
    diagnoses = claim.get("diagnosis") or []
    issues = []
    if not diagnoses:
        issues.append(_issue("required", _("The claim has no diagnosis."), "Claim.diagnosis"))
    if len(diagnoses) > MAX_DIAGNOSES:
        message = _("A professional claim carries at most 12 diagnoses.")
        issues.append(_issue("invalid", message, f"Claim.diagnosis[{MAX_DIAGNOSES}]"))
    for index, diagnosis in enumerate(diagnoses):
        codings = (diagnosis.get("diagnosisCodeableConcept") or {}).get("coding") or []
        if not any(c.get("system") == ICD10CM and c.get("code") for c in codings):
            message = _("A diagnosis must be an ICD-10-CM code.")
            issues.append(_issue("code-invalid", message, f"Claim.diagnosis[{index}].diagnosisCodeableConcept"))
    return issues, {d.get("sequence") for d in diagnoses if isinstance(d.get("sequence"), int)}


def _lines(claim: dict[str, Any], sequences: set[int]) -> list[Issue]:
    issues = []
    items = claim.get("item") or []
    if not items:
        issues.append(_issue("required", _("The claim has no service line."), "Claim.item"))
    if len(items) > MAX_LINES:
        message = _("A professional claim carries at most 50 service lines.")
        issues.append(_issue("invalid", message, f"Claim.item[{MAX_LINES}]"))
    currencies = [currency_of(item.get("net")) for item in items]
    claim_currency = next((c for c in currencies if c), None)
    for index, item in enumerate(items):
        where = f"Claim.item[{index}]"
        net = item.get("net")
        if money_value(net) is None or currencies[index] is None:
            issues.append(_issue("required", _("The charge has no price."), f"{where}.net"))
        elif currencies[index] != claim_currency:
            message = _("The line's currency differs from the claim's ({currency}).").format(currency=claim_currency)
            issues.append(_issue("value", message, f"{where}.net.currency"))
        if not any(c.get("code") for c in (item.get("productOrService") or {}).get("coding") or []):
            issues.append(_issue("required", _("The line has no code."), f"{where}.productOrService"))
        pointers = item.get("diagnosisSequence") or []
        if not pointers:
            issues.append(_issue("required", _("The line points at no diagnosis."), f"{where}.diagnosisSequence"))
        if len(pointers) > MAX_POINTERS:
            message = _("A line points at most at 4 diagnoses.")
            issues.append(_issue("invalid", message, f"{where}.diagnosisSequence[{MAX_POINTERS}]"))
        for position, pointer in enumerate(pointers):
            if pointer not in sequences:
                message = _("Diagnosis pointer {pointer} points at no diagnosis of the claim.").format(pointer=pointer)
                issues.append(_issue("invalid", message, f"{where}.diagnosisSequence[{position}]"))
        if not (item.get("locationCodeableConcept") or {}).get("coding"):
            message = _("The line has no place of service.")
            issues.append(_issue("required", message, f"{where}.locationCodeableConcept"))
    return issues


async def claim_problems(store: ResourceStore, claim: dict[str, Any]) -> list[Issue]:
    """Every reason `claim` cannot be queued ([] when it can)."""
    diagnosis_issues, sequences = _diagnoses(claim)
    long_id = []
    if len(str(claim.get("id") or "")) > MAX_CLAIM_ID:
        message = _("A claim id has at most 38 characters (X12 CLM01).")
        long_id.append(_issue("value", message, "Claim.id"))
    return [
        *long_id,
        *await _providers(store, claim),
        *await _insurance(store, claim),
        *diagnosis_issues,
        *_lines(claim, sequences),
    ]


def is_professional(claim: dict[str, Any]) -> bool:
    codings = (claim.get("type") or {}).get("coding") or []
    return any(c.get("code") == "professional" for c in codings) and claim.get("use") == "claim"
