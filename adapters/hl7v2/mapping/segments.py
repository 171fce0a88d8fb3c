"""A light HL7 v2 parser: segments, fields, repetitions, components, subcomponents, escape sequences.

Separators come from MSH-1/MSH-2. Values are decoded (\\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\.br\\ \\Xhh\\) only
when a single (sub)component is read, so structure never breaks on an escaped delimiter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fhir_server.i18n import _

_ESCAPE = re.compile(r"\\([^\\]*)\\")


@dataclass(frozen=True)
class Delimiters:
    """The message's separators (MSH-1 and MSH-2)."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    def decode(self, text: str) -> str:
        """`text` with escape sequences replaced."""
        if self.escape not in text:
            return text
        esc = re.escape(self.escape)
        pattern = _ESCAPE if self.escape == "\\" else re.compile(f"{esc}([^{esc}]*){esc}")
        return pattern.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        code = match.group(1)
        simple = {"F": self.field, "S": self.component, "T": self.subcomponent, "R": self.repetition}
        if code in simple:
            return simple[code]
        if code == "E":
            return self.escape
        if code in (".br", ".sp"):
            return "\n"
        if code.startswith("X") and re.fullmatch(r"X([0-9A-Fa-f]{2})+", code):
            return bytes.fromhex(code[1:]).decode("latin-1")
        return ""  # formatting (\H\, \N\, \.in\ ...) and charset switches are dropped


@dataclass
class Value:
    """One repetition of a field (or one component seen as its subcomponents): 1-based parts."""

    parts: list[str]
    delims: Delimiters
    sep: str

    def raw(self, i: int) -> str:
        """Part `i` undecoded ('' when absent)."""
        return self.parts[i - 1] if 0 < i <= len(self.parts) else ""

    def c(self, i: int) -> str:
        """Part `i` as text: first subcomponent, decoded, stripped."""
        raw = self.raw(i)
        if self.sep == self.delims.component:
            raw = raw.split(self.delims.subcomponent)[0]
        return self.delims.decode(raw).strip()

    def sub(self, i: int) -> Value:
        """Component `i` split into its subcomponents."""
        return Value(self.raw(i).split(self.delims.subcomponent), self.delims, self.delims.subcomponent)

    def text(self) -> str:
        """The whole value decoded (components joined with their separator)."""
        return self.delims.decode(self.sep.join(self.parts)).strip()

    @property
    def empty(self) -> bool:
        """Whether every part is empty (HL7 `""` null counts as empty)."""
        joined = "".join(self.parts).strip()
        return not joined or joined == '""'


@dataclass
class Segment:
    """One segment; `fields[n]` is field n (for MSH, fields[1] is MSH-1)."""

    name: str
    fields: list[str]
    delims: Delimiters
    set_id: int = 1

    def raw(self, n: int) -> str:
        """Field n undecoded."""
        return self.fields[n] if 0 < n < len(self.fields) else ""

    def reps(self, n: int) -> list[Value]:
        """The non-empty repetitions of field n."""
        raw = self.raw(n)
        if self.name == "MSH" and n in (1, 2):
            return [Value([raw], self.delims, self.delims.component)]
        values = [Value(r.split(self.delims.component), self.delims, self.delims.component) for r in self._split(raw)]
        return [v for v in values if not v.empty]

    def _split(self, raw: str) -> list[str]:
        return raw.split(self.delims.repetition) if raw else []

    def first(self, n: int) -> Value | None:
        """The first repetition of field n, or None."""
        values = self.reps(n)
        return values[0] if values else None

    def c(self, n: int, i: int = 1) -> str:
        """Component i of the first repetition of field n, decoded."""
        value = self.first(n)
        return value.c(i) if value else ""

    def loc(self, n: int) -> str:
        """The ERR location `SEG^set^field`."""
        return f"{self.name}^{self.set_id}^{n}"


@dataclass
class Message:
    """A parsed message: its segments in order and its delimiters."""

    segments: list[Segment] = field(default_factory=list)
    delims: Delimiters = field(default_factory=Delimiters)

    def first(self, name: str) -> Segment | None:
        """The first segment called `name`."""
        return next((s for s in self.segments if s.name == name), None)


def parse(text: str) -> Message:
    """Split `text` (one message, CR-separated; LF tolerated) into segments. Raises ValueError without MSH."""
    text = text.lstrip("\ufeff\r\n ")
    if not text.startswith("MSH") or len(text) < 8:
        raise ValueError(_("the message does not start with an MSH segment"))
    fs = text[3]
    enc = text[4:].split(fs, 1)[0]
    delims = Delimiters(fs, *(list(enc[:4]) + ["^", "~", "\\", "&"][len(enc[:4]) :]))
    message = Message(delims=delims)
    counts: dict[str, int] = {}
    for line in re.split(r"\r\n|\r|\n", text):
        if not line.strip():
            continue
        name = line[:3]
        fields = ["MSH", fs, *line[4:].split(fs)] if name == "MSH" else line.split(fs)
        counts[name] = counts.get(name, 0) + 1
        message.segments.append(Segment(name, fields, delims, counts[name]))
    return message


@dataclass
class ResultGroup:
    """One OBX with the NTEs that follow it."""

    obx: Segment
    notes: list[Segment] = field(default_factory=list)


@dataclass
class OrderGroup:
    """One OBR with its ORC, OBX groups, NTEs and SPMs (ORU, ORM and OML alike)."""

    orc: Segment | None
    obr: Segment | None
    results: list[ResultGroup] = field(default_factory=list)
    notes: list[Segment] = field(default_factory=list)
    specimens: list[Segment] = field(default_factory=list)


def order_groups(message: Message) -> list[OrderGroup]:
    """The message's orders in order; an ORC without an OBR still makes a group (ORM)."""
    groups: list[OrderGroup] = []
    orc: Segment | None = None
    notes: list[Segment] | None = None
    for seg in message.segments:
        if seg.name == "ORC":
            orc = seg
            groups.append(OrderGroup(orc, None))
            notes = groups[-1].notes
        elif seg.name == "OBR":
            if not (groups and groups[-1].obr is None and orc is not None and groups[-1].orc is orc):
                groups.append(OrderGroup(orc, None))
            groups[-1].obr = seg
            notes = groups[-1].notes
        elif seg.name == "OBX" and groups:
            groups[-1].results.append(ResultGroup(seg))
            notes = groups[-1].results[-1].notes
        elif seg.name == "NTE" and notes is not None:
            notes.append(seg)
        elif seg.name == "SPM" and groups:
            groups[-1].specimens.append(seg)
            notes = None
    return groups
