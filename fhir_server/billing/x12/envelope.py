"""The X12 5010 envelopes: interchange (ISA/IEA), functional group (GS/GE), transaction set (ST/SE).

The caller supplies the control numbers (from `storage/x12_control.py`, so they never repeat)
and the segments of each transaction set between ST and SE; the counts in SE01, GE01 and IEA01
are computed here, so they always match what is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .segments import DEFAULT, Delimiters, Segment, clean


@dataclass(frozen=True)
class Parties:
    """Who sends and who receives an interchange: ISA05-08 (qualifier ZZ, mutually defined) and GS02-03."""

    sender_id: str
    receiver_id: str
    usage: str = "P"
    """ISA15: P production, T test."""


def _fixed(value: str, width: int) -> str:
    return clean(value)[:width].ljust(width)


def transaction_set(code: str, control: int, version: str, body: Sequence[Segment]) -> list[Segment]:
    """ST ... SE around `body`; ST03 carries the implementation guide (`005010X222A1`)."""
    number = f"{control:04d}"
    return [("ST", code, number, version), *body, ("SE", str(len(body) + 2), number)]


def interchange(
    parties: Parties,
    functional_code: str,
    version: str,
    interchange_control: int,
    group_control: int,
    sets: Sequence[Sequence[Segment]],
    moment: datetime,
    delimiters: Delimiters = DEFAULT,
) -> list[Segment]:
    """One interchange holding one functional group (GS01 `functional_code`, e.g. HC for claims) of `sets`."""
    isa_number = f"{interchange_control:09d}"
    isa: Segment = (
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        _fixed(parties.sender_id, 15),
        "ZZ",
        _fixed(parties.receiver_id, 15),
        moment.strftime("%y%m%d"),
        moment.strftime("%H%M"),
        delimiters.repetition,
        "00501",
        isa_number,
        "0",
        parties.usage,
        delimiters.component,
    )
    gs: Segment = (
        "GS",
        functional_code,
        clean(parties.sender_id),
        clean(parties.receiver_id),
        moment.strftime("%Y%m%d"),
        moment.strftime("%H%M"),
        str(group_control),
        "X",
        version,
    )
    body = [segment for transaction in sets for segment in transaction]
    return [isa, gs, *body, ("GE", str(len(sets)), str(group_control)), ("IEA", "1", isa_number)]
