"""What a MedicationRequest prescribes: its medication coding resolved against the knowledge base, or
against a Medication resource of the server (a practice's formulary item carrying the same RxNorm or NDC
code, or the Medication the request references), and the ingredients the safety checks compare.

Accepted codes: RxNorm (clinical drugs and ingredients of the knowledge base) and NDC (package codes the
knowledge base lists); any RxNorm or NDC code of a Medication resource stored on the server, whose
ingredients (Medication.ingredient.itemCodeableConcept, RxNorm) are then used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...i18n import _
from ...storage import ResourceStore
from .knowledge import NDC, RXNORM, Knowledge
from .lookup import find, read_reference

CODE_SYSTEMS = (RXNORM, NDC)


@dataclass(frozen=True)
class Prescribed:
    """A resolved medication: its coding and its ingredients (rxcui → mg per unit, 0 when unknown)."""

    system: str
    code: str
    display: str
    strengths: Mapping[str, Decimal]


class UnknownMedication(Exception):
    """The request's medication is not coded with a known code; `expression` names the element."""

    def __init__(self, message: str, expression: str) -> None:
        super().__init__(message)
        self.expression = expression


def _codings(concept: Any) -> list[Mapping[str, Any]]:
    codings = (concept or {}).get("coding") or [] if isinstance(concept, Mapping) else []
    return [c for c in codings if isinstance(c, Mapping) and c.get("system") in CODE_SYSTEMS and c.get("code")]


def _medication_ingredients(medication: Mapping[str, Any]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for ingredient in medication.get("ingredient") or []:
        for coding in _codings((ingredient or {}).get("itemCodeableConcept")):
            if coding["system"] == RXNORM:
                found[str(coding["code"])] = Decimal(0)
    return found


def _from_knowledge(knowledge: Knowledge, concept: Any) -> Prescribed | None:
    for coding in _codings(concept):
        drug = knowledge.drug(coding["system"], str(coding["code"]))
        if drug is not None:
            return Prescribed(RXNORM, drug.code, drug.display, drug.strengths)
    return None


async def _from_formulary(store: ResourceStore, concept: Any) -> Prescribed | None:
    for coding in _codings(concept):
        system, code = coding["system"], str(coding["code"])
        for medication in await find(store, "Medication", [("code", f"{system}|{code}")], 1):
            display = str(coding.get("display") or (medication.get("code") or {}).get("text") or code)
            return Prescribed(system, code, display, _medication_ingredients(medication))
    return None


async def resolve_medication(
    knowledge: Knowledge, store: ResourceStore, request: Mapping[str, Any], in_commit: Mapping[str, Any] | None = None
) -> Prescribed:
    """The medication `request` prescribes. Raises UnknownMedication naming the element when it is not coded
    with an accepted code (see the module docstring)."""
    if "medicationReference" in request:
        where = "MedicationRequest.medicationReference"
        reference = str((request.get("medicationReference") or {}).get("reference", ""))
        medication = (in_commit or {}).get(reference) or await read_reference(store, reference)
        if medication is None or medication.get("resourceType") != "Medication":
            raise UnknownMedication(_("The prescribed Medication {reference} does not exist.").format(
                reference=reference[:80]), where)  # fmt: skip
        concept = medication.get("code")
        found = _from_knowledge(knowledge, concept)
        if found is None and _codings(concept):
            coding = _codings(concept)[0]
            found = Prescribed(coding["system"], str(coding["code"]), str(coding.get("display") or coding["code"]),
                               _medication_ingredients(medication))  # fmt: skip
        if found is None:
            raise UnknownMedication(_("The prescribed Medication has no RxNorm or NDC code."), where)
        if not found.strengths:
            found = Prescribed(found.system, found.code, found.display, _medication_ingredients(medication))
        return found
    where = "MedicationRequest.medicationCodeableConcept"
    concept = request.get("medicationCodeableConcept")
    if not _codings(concept):
        raise UnknownMedication(_("A prescription needs a medication coded in RxNorm or NDC."), where + ".coding")
    found = _from_knowledge(knowledge, concept) or await _from_formulary(store, concept)
    if found is None:
        codes = ", ".join(f"{c['system']}|{c['code']}" for c in _codings(concept))[:200]
        raise UnknownMedication(
            _("Unknown medication code {codes}: it is neither in the prescribing knowledge base nor the code of a "
              "Medication on this server.").format(codes=codes), where + ".coding")  # fmt: skip
    return found
