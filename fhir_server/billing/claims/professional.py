"""A professional claim as the 837P and the CMS-1500 need it: plain values read from FHIR once.

`assemble.py` fills it from a stored Claim and the resources it references; `x837.py` and
`cms1500.py` write it. Money is Decimal (the stored FhirDecimal: `1.10` stays `1.10`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Address:
    line: str
    city: str
    state: str
    postal_code: str


@dataclass(frozen=True)
class Provider:
    """A billing (organization) or rendering (person) provider."""

    name: str
    """Organization name, or a person's family name."""
    npi: str
    taxonomy: str = ""
    given: str = ""
    """A person's given name ('' for an organization)."""
    tax_id: str = ""
    address: Address | None = None
    phone: str = ""


@dataclass(frozen=True)
class Person:
    family: str
    given: str
    birth_date: date | None
    gender: str
    """X12 DMG03: F, M or U."""
    address: Address | None


@dataclass(frozen=True)
class Line:
    code: str
    """CPT/HCPCS."""
    modifiers: tuple[str, ...]
    charge: Decimal
    units: Decimal
    pointers: tuple[int, ...]
    """1-based positions in `ProfessionalClaim.diagnoses` (at most 4)."""
    service_date: date


@dataclass(frozen=True)
class ProfessionalClaim:
    claim_id: str
    """CLM01, the patient control number: the Claim's id."""
    total: Decimal
    place_of_service: str
    billing: Provider
    rendering: Provider | None
    payer_name: str
    payer_id: str
    sequence: str
    """SBR01: P primary, S secondary, T tertiary (Coverage.order)."""
    member_id: str
    group_number: str
    subscriber: Person
    patient: Person | None
    """None when the patient is the subscriber."""
    relationship: str
    """PAT01 when the patient is not the subscriber (01 spouse, 19 child, G8 other)."""
    diagnoses: tuple[str, ...]
    """ICD-10-CM codes in order (at most 12), without the dot."""
    lines: tuple[Line, ...]
