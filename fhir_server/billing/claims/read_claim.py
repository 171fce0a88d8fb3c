"""A stored professional Claim read into `ProfessionalClaim` (the values the 837P and CMS-1500 print).

The Claim passed checks.py when it was queued; the caller runs the check again first (a provider
or coverage may have changed since), so what is read here is present.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ...storage import ResourceStore
from ..charges.capture import coverage_order
from ..charges.money import money_value
from ..codes import COVERAGE_CLASS, ICD10CM, NPI, PAYER_ID, PLACE_OF_SERVICE, SUBSCRIBER_RELATIONSHIP, TAX_ID, TAXONOMY
from ..dates import day_of
from ..references import codes, identifier, reference_of, resolve
from .professional import Address, Line, Person, ProfessionalClaim, Provider

RELATIONSHIP = {"self": "18", "spouse": "01", "child": "19"}
"""Coverage.relationship (subscriber-relationship) as X12 individual relationship codes; others G8."""
SEQUENCE = {1: "P", 2: "S", 3: "T"}


def address_of(resource: dict[str, Any] | None) -> Address | None:
    for address in (resource or {}).get("address") or []:
        lines = address.get("line") or []
        if lines and address.get("city") and address.get("state") and address.get("postalCode"):
            return Address(str(lines[0]), str(address["city"]), str(address["state"]), str(address["postalCode"]))
    return None


def phone_of(resource: dict[str, Any] | None) -> str:
    """The first phone number's digits ('' when none)."""
    for telecom in (resource or {}).get("telecom") or []:
        if telecom.get("system") == "phone" and telecom.get("value"):
            return "".join(ch for ch in str(telecom["value"]) if ch.isdigit())
    return ""


def _name(resource: dict[str, Any] | None) -> tuple[str, str]:
    names = (resource or {}).get("name") or []
    name = names[0] if names else {}
    given = name.get("given") or []
    return str(name.get("family") or ""), str(given[0] if given else "")


def person_of(resource: dict[str, Any] | None) -> Person:
    family, given = _name(resource)
    gender = {"female": "F", "male": "M"}.get(str((resource or {}).get("gender")), "U")
    return Person(family, given, day_of((resource or {}).get("birthDate")), gender, address_of(resource))


def _taxonomy(practitioner: dict[str, Any] | None) -> str:
    for qualification in (practitioner or {}).get("qualification") or []:
        found = codes(qualification.get("code"), TAXONOMY)
        if found:
            return found[0]
    return ""


def _focal(claim: dict[str, Any]) -> dict[str, Any]:
    insurances = claim.get("insurance") or [{}]
    return next((i for i in insurances if i.get("focal")), insurances[0])


def _line(item: dict[str, Any], fallback: date) -> Line:
    concept = item.get("productOrService") or {}
    code = next((str(c["code"]) for c in concept.get("coding") or [] if c.get("code")), "")
    modifiers = tuple(
        str(c["code"]) for m in item.get("modifier") or [] for c in m.get("coding") or [] if c.get("code")
    )
    units = money_value(item.get("quantity")) or Decimal(1)
    return Line(
        code=code,
        modifiers=modifiers,
        charge=money_value(item.get("net")) or Decimal(0),
        units=units,
        pointers=tuple(int(p) for p in item.get("diagnosisSequence") or []),
        service_date=day_of(item.get("servicedDate")) or fallback,
    )


async def read_professional_claim(store: ResourceStore, claim: dict[str, Any]) -> ProfessionalClaim:
    """The 837P/CMS-1500 values of a checked Claim."""
    billing_org = await resolve(store, reference_of(claim.get("provider")), "Organization")
    billing = Provider(
        name=str((billing_org or {}).get("name") or ""),
        npi=identifier(billing_org, NPI) or "",
        tax_id=identifier(billing_org, TAX_ID) or "",
        address=address_of(billing_org),
        phone=phone_of(billing_org),
    )
    rendering = None
    for member in claim.get("careTeam") or []:
        practitioner = await resolve(store, reference_of(member.get("provider")), "Practitioner")
        family, given = _name(practitioner)
        rendering = Provider(family, identifier(practitioner, NPI) or "", _taxonomy(practitioner), given=given)
        break
    insurance = _focal(claim)
    coverage = await resolve(store, reference_of(insurance.get("coverage")), "Coverage") or {}
    payer_reference = next(
        (r for p in coverage.get("payor") or [] if (r := reference_of(p)) and r.startswith("Organization/")), None
    )
    payer = await resolve(store, payer_reference, "Organization") or {}
    patient = await resolve(store, reference_of(claim.get("patient")), "Patient")
    subscriber_reference = reference_of(coverage.get("subscriber"))
    own = subscriber_reference in (None, reference_of(claim.get("patient")))
    subscriber = patient if own else await resolve(store, subscriber_reference, "Patient", "RelatedPerson")
    relationship = next(iter(codes(coverage.get("relationship"), SUBSCRIBER_RELATIONSHIP)), "")
    group = next(
        (str(c.get("value")) for c in coverage.get("class") or [] if "group" in codes(c.get("type"), COVERAGE_CLASS)),
        "",
    )
    items = claim.get("item") or []
    first_day = day_of((claim.get("billablePeriod") or {}).get("start")) or date.today()
    pos = next(iter(codes((items[0] if items else {}).get("locationCodeableConcept"), PLACE_OF_SERVICE)), "11")
    diagnoses = tuple(
        codes(d.get("diagnosisCodeableConcept"), ICD10CM)[0].replace(".", "")
        for d in sorted(claim.get("diagnosis") or [], key=lambda d: int(d.get("sequence") or 0))
    )
    lines = tuple(_line(item, first_day) for item in items)
    return ProfessionalClaim(
        claim_id=str(claim["id"]),
        total=sum((line.charge for line in lines), Decimal(0)),
        place_of_service=pos,
        billing=billing,
        rendering=rendering,
        payer_name=str(payer.get("name") or ""),
        payer_id=identifier(payer, PAYER_ID) or str(payer.get("id") or ""),
        sequence=SEQUENCE.get(coverage_order(coverage), "P"),
        member_id=str(coverage.get("subscriberId") or ""),
        group_number=group,
        subscriber=person_of(subscriber),
        patient=None if own else person_of(patient),
        relationship="" if own else RELATIONSHIP.get(relationship, "G8"),
        diagnoses=diagnoses,
        lines=lines,
    )
