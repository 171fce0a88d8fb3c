"""Eligibility in X12 5010: the 270 inquiry written from a CoverageEligibilityRequest, the 271 answer
read into CoverageEligibilityResponse values.

270 (005010X279A1): 2000A information source (the payer, NM1*PR with its payer id), 2000B
information receiver (the practice, NM1*1P with its NPI), 2000C subscriber with TRN*1 (the trace:
the request's id, which the payer echoes in the 271's TRN*2), NM1*IL (member id), DMG, DTP*291
(the date asked about) and EQ*30 (health benefit plan coverage).

271: per subscriber loop, TRN*2 names the request; EB segments carry the answer: EB01 `1` active
coverage, `6` inactive, `B` co-payment, `C` deductible, `G` out-of-pocket (EB07 the amount), EB05
the plan's name; AAA segments are the payer's rejections (AAA03 reason code).
pyx12 ships no 5010 map for 270/271 (only 4010), so these are checked by reading them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from ..x12.envelope import Parties, interchange, transaction_set
from ..x12.segments import Segment, X12DataError, clean, element, parse, render
from .professional import Person

GUIDE = "005010X279A1"


@dataclass(frozen=True)
class Inquiry:
    trace: str
    payer_name: str
    payer_id: str
    provider_name: str
    provider_npi: str
    member_id: str
    subscriber: Person
    day: date


def inquiry_file(
    inquiry: Inquiry, parties: Parties, interchange_control: int, group_control: int, moment: datetime
) -> str:
    """The 270 file asking about `inquiry`."""
    person = inquiry.subscriber
    body: list[Segment] = [
        ("BHT", "0022", "13", clean(inquiry.trace), moment.strftime("%Y%m%d"), moment.strftime("%H%M")),
        ("HL", "1", "", "20", "1"),
        ("NM1", "PR", "2", clean(inquiry.payer_name), "", "", "", "", "PI", clean(inquiry.payer_id)),
        ("HL", "2", "1", "21", "1"),
        ("NM1", "1P", "2", clean(inquiry.provider_name), "", "", "", "", "XX", inquiry.provider_npi),
        ("HL", "3", "2", "22", "0"),
        ("TRN", "1", clean(inquiry.trace), "9" + clean(parties.sender_id)[:9].rjust(9, "0")),
        ("NM1", "IL", "1", clean(person.family), clean(person.given), "", "", "", "MI", clean(inquiry.member_id)),
    ]
    if person.birth_date is not None:
        body.append(("DMG", "D8", person.birth_date.strftime("%Y%m%d"), person.gender))
    body += [("DTP", "291", "D8", inquiry.day.strftime("%Y%m%d")), ("EQ", "30")]
    sets = [transaction_set("270", 1, GUIDE, body)]
    return render(interchange(parties, "HS", GUIDE, interchange_control, group_control, sets, moment))


@dataclass(frozen=True)
class Benefit:
    code: str
    """EB01."""
    amount: Decimal | None
    plan: str


@dataclass
class Answer:
    """One subscriber loop of a 271: the request it answers and what the payer said."""

    trace: str
    segment: int
    """Position of its TRN segment (1-based), for messages."""
    benefits: list[Benefit] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return any(b.code == "1" for b in self.benefits) and not any(b.code == "6" for b in self.benefits)


class X12FileError(ValueError):
    """A 271 that cannot be read; `segment` is the 1-based position of the faulty segment (0: the file)."""

    def __init__(self, message: str, segment: int = 0) -> None:
        super().__init__(message)
        self.segment = segment


def _amount(text: str, position: int) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise X12FileError(f"EB07 is not an amount: {text}", position) from None


def read_answers(text: str) -> list[Answer]:
    """The subscriber answers of a 271 file."""
    try:
        segments: Sequence[Segment] = parse(text)
    except X12DataError:
        raise X12FileError("not an X12 interchange (no ISA segment)") from None
    if not any(s[0] == "ST" and element(s, 1) == "271" for s in segments):
        raise X12FileError("not a 271 transaction set")
    answers: list[Answer] = []
    for position, segment in enumerate(segments, start=1):
        tag = segment[0]
        if tag == "TRN" and element(segment, 1) == "2":
            answers.append(Answer(element(segment, 2), position))
        elif tag == "EB":
            if not answers:
                raise X12FileError("EB before any TRN*2 trace", position)
            benefit = Benefit(element(segment, 1), _amount(element(segment, 7), position), element(segment, 5))
            answers[-1].benefits.append(benefit)
        elif tag == "AAA" and answers:
            answers[-1].rejections.append(element(segment, 3))
    if not answers:
        raise X12FileError("no subscriber trace (TRN*2) in the 271")
    return answers
