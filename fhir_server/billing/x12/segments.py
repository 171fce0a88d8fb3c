"""X12 segments: elements joined by delimiters, and the text of a file read back into segments.

A segment is a tuple of strings, the segment id first (`("NM1", "85", "2", "CLINIC")`). Empty
trailing elements are dropped when rendered (X12 forbids trailing delimiters); a composite is
its components joined with the component separator (`composite("HC", "99213", "25")`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Segment = tuple[str, ...]


@dataclass(frozen=True)
class Delimiters:
    """The four X12 delimiters; ISA fixes them for the whole interchange (ISA11, ISA16, the byte after ISA)."""

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"

    @property
    def all(self) -> str:
        return self.element + self.component + self.repetition + self.segment


DEFAULT = Delimiters()

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


class X12DataError(ValueError):
    """A value that cannot be written in X12 (it contains a delimiter); `value` names it."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


def clean(value: str, delimiters: Delimiters = DEFAULT) -> str:
    """`value` with spaces collapsed (case kept: 5010 allows lower case, and a claim id must come back
    as it went out); X12DataError when it holds a delimiter (a `*` in a name would shift every later element)."""
    text = " ".join(_UNPRINTABLE.sub(" ", value).split())
    if any(character in text for character in delimiters.all):
        raise X12DataError(value)
    return text


def composite(*components: str, delimiters: Delimiters = DEFAULT) -> str:
    """Components of a composite element, empty trailing ones dropped."""
    parts = list(components)
    while parts and not parts[-1]:
        parts.pop()
    return delimiters.component.join(parts)


def render(segments: Iterable[Segment], delimiters: Delimiters = DEFAULT, newline: bool = True) -> str:
    """The text of `segments` (one per line when `newline`, which X12 readers accept after the terminator)."""
    lines = []
    for segment in segments:
        elements = list(segment)
        while len(elements) > 1 and not elements[-1]:
            elements.pop()
        lines.append(delimiters.element.join(elements) + delimiters.segment)
    return ("\n" if newline else "").join(lines) + ("\n" if newline else "")


def delimiters_of(text: str) -> Delimiters:
    """The delimiters an interchange declares in its fixed-width ISA segment."""
    start = text.find("ISA")
    if start < 0 or len(text) < start + 106:
        raise X12DataError(text[:20])
    isa = text[start : start + 106]
    return Delimiters(element=isa[3], repetition=isa[82], component=isa[104], segment=isa[105])


def parse(text: str) -> list[Segment]:
    """The segments of an X12 file (line breaks between segments are ignored)."""
    delimiters = delimiters_of(text)
    segments = []
    for raw in text[text.find("ISA") :].split(delimiters.segment):
        stripped = raw.strip("\r\n")
        if stripped.strip():
            segments.append(tuple(stripped.split(delimiters.element)))
    return segments


def element(segment: Sequence[str], position: int) -> str:
    """Element `position` (1-based, as X12 numbers them: NM103 is `element(nm1, 3)`), '' when absent."""
    return segment[position] if position < len(segment) else ""
