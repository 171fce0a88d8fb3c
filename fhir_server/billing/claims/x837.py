"""X12 837P 5010 (005010X222A1) for professional claims: one batch file for a clearinghouse.

The loops written (X222A1 guide): 1000A submitter, 1000B receiver, per billing provider 2000A /
2010AA, per claim 2000B subscriber (2010BA subscriber, 2010BB payer), 2000C patient when the
patient is not the subscriber, 2300 claim (CLM, HI diagnoses), 2310B rendering provider, and a
2400 service line (LX, SV1, DTP 472) per charge. Claims of one billing provider share its 2000A.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from ..x12.envelope import Parties, interchange, transaction_set
from ..x12.segments import Segment, clean, composite, render
from .professional import Address, Person, ProfessionalClaim, Provider

GUIDE = "005010X222A1"


def _amount(value: Decimal) -> str:
    """X12 R type: no exponent, no trailing '.', no '+' (`100.00` stays `100.00`)."""
    text = format(value, "f")
    return text.rstrip(".") if "." in text else text


def _address(address: Address | None) -> list[Segment]:
    if address is None:
        return []
    postal = "".join(ch for ch in address.postal_code if ch.isdigit())
    return [("N3", clean(address.line)), ("N4", clean(address.city), clean(address.state), postal)]


def _person_name(qualifier: str, person: Person, id_qualifier: str = "", identifier: str = "") -> Segment:
    return (
        "NM1",
        qualifier,
        "1",
        clean(person.family),
        clean(person.given),
        "",
        "",
        "",
        id_qualifier,
        clean(identifier),
    )


def _demographics(person: Person) -> list[Segment]:
    if person.birth_date is None:
        return []
    return [("DMG", "D8", person.birth_date.strftime("%Y%m%d"), person.gender)]


def _billing_provider(hl: int, provider: Provider) -> list[Segment]:
    segments: list[Segment] = [("HL", str(hl), "", "20", "1")]
    if provider.taxonomy:
        segments.append(("PRV", "BI", "PXC", provider.taxonomy))
    segments.append(("NM1", "85", "2", clean(provider.name), "", "", "", "", "XX", provider.npi))
    segments += _address(provider.address)
    segments.append(("REF", "EI", "".join(ch for ch in provider.tax_id if ch.isdigit())))
    return segments


def _claim(claim: ProfessionalClaim, parent: int, hl: int) -> tuple[list[Segment], int]:
    """Loops 2000B..2400 of one claim; the next free HL number."""
    own = claim.patient is None
    segments: list[Segment] = [
        ("HL", str(hl), str(parent), "22", "0" if own else "1"),
        ("SBR", claim.sequence, "18" if own else "", clean(claim.group_number), "", "", "", "", "", "CI"),
        _person_name("IL", claim.subscriber, "MI", claim.member_id),
    ]
    segments += _address(claim.subscriber.address) + _demographics(claim.subscriber)
    segments.append(("NM1", "PR", "2", clean(claim.payer_name), "", "", "", "", "PI", clean(claim.payer_id)))
    next_hl = hl + 1
    if claim.patient is not None:
        segments.append(("HL", str(next_hl), str(hl), "23", "0"))
        segments.append(("PAT", claim.relationship))
        segments.append(_person_name("QC", claim.patient))
        segments += _address(claim.patient.address) + _demographics(claim.patient)
        next_hl += 1
    segments.append(
        (
            "CLM",
            clean(claim.claim_id),
            _amount(claim.total),
            "",
            "",
            composite(claim.place_of_service, "B", "1"),
            "Y",
            "A",
            "Y",
            "Y",
        )
    )
    qualifiers = ["ABK", *["ABF"] * (len(claim.diagnoses) - 1)]
    segments.append(("HI", *(composite(q, code) for q, code in zip(qualifiers, claim.diagnoses, strict=True))))
    rendering = claim.rendering
    if rendering is not None:
        segments.append(
            ("NM1", "82", "1", clean(rendering.name), clean(rendering.given), "", "", "", "XX", rendering.npi)
        )
        if rendering.taxonomy:
            segments.append(("PRV", "PE", "PXC", rendering.taxonomy))
    for number, line in enumerate(claim.lines, start=1):
        segments.append(("LX", str(number)))
        segments.append(
            (
                "SV1",
                composite("HC", line.code, *line.modifiers[:4]),
                _amount(line.charge),
                "UN",
                _amount(line.units),
                "",
                "",
                composite(*(str(p) for p in line.pointers)),
            )
        )
        segments.append(("DTP", "472", "D8", line.service_date.strftime("%Y%m%d")))
    return segments, next_hl


def transaction_body(
    claims: Sequence[ProfessionalClaim], parties: Parties, reference: str, moment: datetime
) -> list[Segment]:
    """The segments between ST and SE for `claims` (grouped by billing provider NPI); the submitter is the
    first claim's billing provider."""
    submitter = claims[0].billing
    body: list[Segment] = [
        ("BHT", "0019", "00", clean(reference), moment.strftime("%Y%m%d"), moment.strftime("%H%M"), "CH"),
        ("NM1", "41", "2", clean(submitter.name), "", "", "", "", "46", clean(parties.sender_id)),
        ("PER", "IC", clean(submitter.name), "TE", submitter.phone),
        ("NM1", "40", "2", clean(parties.receiver_id), "", "", "", "", "46", clean(parties.receiver_id)),
    ]
    by_provider: dict[str, list[ProfessionalClaim]] = {}
    for claim in claims:
        by_provider.setdefault(claim.billing.npi, []).append(claim)
    hl = 1
    for group in by_provider.values():
        provider_hl = hl
        body += _billing_provider(provider_hl, group[0].billing)
        hl += 1
        for claim in group:
            segments, hl = _claim(claim, provider_hl, hl)
            body += segments
    return body


def batch_file(
    claims: Sequence[ProfessionalClaim],
    *,
    parties: Parties,
    interchange_control: int,
    group_control: int,
    moment: datetime,
) -> str:
    """The 837P file: one interchange, one group, one transaction set holding every claim."""
    reference = f"{interchange_control:09d}"
    body = transaction_body(claims, parties, reference, moment)
    sets = [transaction_set("837", 1, GUIDE, body)]
    return render(interchange(parties, "HC", GUIDE, interchange_control, group_control, sets, moment))
