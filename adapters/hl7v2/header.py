"""Reading what arrives: character sets, segment ends, batches and the MSH header.

This is hand-written rather than hl7apy: a tolerant hl7apy parse of one ORU^R01 takes
35-500 ms and refuses segments it does not know (PRT in 2.5.1), while the header checks
below need microseconds and must work on any 2.x message, Z-segments included.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field

from fhir_server.i18n import _, _n

BOM = "\ufeff"
CHARSETS = {
    "": "utf-8",
    "ASCII": "ascii",
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    **{f"8859/{n}": f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15)},
}
"""MSH-18 values (HL7 table 0211) this receiver decodes, and their Python codecs."""

PROCESSING_IDS = frozenset({"P", "T", "D"})
"""HL7 table 0103."""
DEFAULT_PROCESSING_IDS = frozenset({"P"})
"""What a listener accepts unless configured otherwise: production only, so test and debug messages
never land in clinical records."""
ENVELOPE = {"FHS", "BHS", "BTS", "FTS"}


@dataclass(frozen=True)
class HL7Error:
    """One problem for an ERR segment: table 0357 code, location (segment^sequence^field), text, severity."""

    code: str
    location: str
    text: str
    severity: str = "E"


@dataclass
class Header:
    """The MSH fields the receiver needs (first components, unescaped enough for routing)."""

    field_sep: str = "|"
    encoding: str = "^~\\&"
    sending_app: str = ""
    sending_facility: str = ""
    receiving_app: str = ""
    receiving_facility: str = ""
    message_type: str = ""
    control_id: str = ""
    processing_id: str = ""
    version: str = ""
    accept_ack: str = ""
    app_ack: str = ""
    charset: str = ""

    @property
    def event(self) -> str:
        parts = self.message_type.split(self.encoding[:1] or "^")
        return parts[1] if len(parts) > 1 else ""

    @property
    def enhanced(self) -> bool:
        """Enhanced acknowledgement mode: MSH-15 or MSH-16 is valued."""
        return bool(self.accept_ack or self.app_ack)


@dataclass
class Decoded:
    """A payload turned into text, or the reason it could not be."""

    text: str
    charset: str
    codec: str
    errors: list[HL7Error] = field(default_factory=list)


def _msh18(payload: bytes) -> str:
    """MSH-18 read from the raw bytes (the header itself is ASCII in every character set we decode)."""
    start = payload.find(b"MSH")
    if start < 0 or len(payload) < start + 4:
        return ""
    end = len(payload)
    for stop in (b"\r", b"\n"):
        found = payload.find(stop, start)
        if 0 <= found < end:
            end = found
    line = payload[start:end].decode("latin-1")
    fields = line.split(line[3])
    value = fields[17] if len(fields) > 17 else ""
    return value.split(fields[1][1:2] or "~")[0].split(fields[1][:1] or "^")[0].strip().upper()


def decode(payload: bytes) -> Decoded:
    """Decode per MSH-18 (UTF-8 when empty); an unknown character set is reported, not guessed."""
    if payload.startswith(codecs.BOM_UTF8):
        payload = payload[len(codecs.BOM_UTF8) :]
    charset = _msh18(payload)
    codec = CHARSETS.get(charset)
    if codec is None:
        text = payload.decode("latin-1")
        problem = _("The character set {charset} (MSH-18) is not supported.").format(charset=charset)
        return Decoded(text, charset, "latin-1", [HL7Error("103", "MSH^1^18", problem)])
    try:
        return Decoded(payload.decode(codec), charset, codec)
    except UnicodeDecodeError:
        # Undeclared legacy text (often Windows-1252/Latin-1): keep every byte and say so.
        problem = _("The message is not valid {codec}; it was read as ISO 8859-1.").format(codec=codec)
        return Decoded(payload.decode("latin-1"), charset, "latin-1", [HL7Error("102", "MSH^1^18", problem, "W")])


def segments(text: str) -> list[str]:
    """Segments of a message or batch: CR, LF or CRLF ends, blank lines dropped, and a BOM dropped wherever a
    segment starts or ends with one (files joined together, or split by a sender at each `MSH|`)."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    return [line for line in (s.strip(" \t\x00" + BOM) for s in text.split("\r")) if line]


def bom_fragment(text: str) -> bool:
    """Whether a frame holds only a BOM behind an empty MSH: `mllp_send --loose` splits a file at each
    `MSH|^~\\&|`, so the BOM in front of the first one goes out alone as `MSH|^~\\&|<BOM>`."""
    text = text.strip(" \t\r\n\x00")
    if not text.startswith("MSH") or not text.endswith(BOM) or len(text) < 5:
        return False
    return not text[4:].rstrip(BOM).replace(text[3], "").strip("^~\\&#")


@dataclass
class Batch:
    """What one frame carried: its messages, and the envelope segments if it was a batch."""

    messages: list[str]
    envelope: dict[str, str] = field(default_factory=dict)
    errors: list[HL7Error] = field(default_factory=list)

    @property
    def is_batch(self) -> bool:
        return bool(self.envelope) or len(self.messages) > 1


def split(text: str) -> Batch:
    """Split a frame into messages (CR-joined); check BTS-1 and FTS-1 counts against what arrived."""
    batch = Batch([])
    current: list[str] = []
    batches, in_batch, expected_batches = 0, 0, None
    for segment in segments(text):
        name = segment[:3]
        if name in ENVELOPE:
            if current:
                batch.messages.append("\r".join(current))
                current = []
                in_batch += 1
            batch.envelope.setdefault(name, segment)
            if name == "BHS":
                batches, in_batch = batches + 1, 0
            elif name == "BTS":
                batch.errors += _count_check("BTS", segment, in_batch, _messages_text)
            elif name == "FTS":
                expected_batches = segment
            continue
        if name == "MSH" and current:
            batch.messages.append("\r".join(current))
            current, in_batch = [], in_batch + 1
        current.append(segment)
    if current:
        batch.messages.append("\r".join(current))
    if expected_batches is not None:
        batch.errors += _count_check("FTS", expected_batches, batches, _batches_text)
    return batch


def _messages_text(expected: int) -> str:
    return _n(
        "{segment}-1 says {expected} message but {actual} arrived.",
        "{segment}-1 says {expected} messages but {actual} arrived.",
        expected,
    )


def _batches_text(expected: int) -> str:
    return _n(
        "{segment}-1 says {expected} batch but {actual} arrived.",
        "{segment}-1 says {expected} batches but {actual} arrived.",
        expected,
    )


def _count_check(name: str, segment: str, actual: int, text: Callable[[int], str]) -> list[HL7Error]:
    """BTS-1 / FTS-1 against what arrived; `text` words the mismatch for the stated count (a plural form)."""
    value = segment[4:].split(segment[3:4] or "|")[0].strip() if len(segment) > 3 else ""
    if not value or (value.isdigit() and int(value) == actual):
        return []
    problem = text(int(value) if value.isdigit() else 2).format(segment=name, expected=value, actual=actual)
    return [HL7Error("100", f"{name}^1^1", problem, "W")]


def parse_header(
    message: str, processing_ids: frozenset[str] = DEFAULT_PROCESSING_IDS
) -> tuple[Header | None, list[HL7Error]]:
    """The MSH of a message and every header problem: missing fields, processing id, version."""
    first = message.split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 8:
        return None, [HL7Error("100", "MSH^1", _("The message does not begin with an MSH segment."))]
    sep = first[3]
    fields = first.split(sep)
    encoding = fields[1]
    comp = encoding[:1] or "^"

    def value(n: int, whole: bool = False) -> str:
        raw = fields[n - 1] if n - 1 < len(fields) else ""
        return raw.strip() if whole else raw.split(comp)[0].strip()

    header = Header(
        field_sep=sep, encoding=encoding, sending_app=value(3), sending_facility=value(4),
        receiving_app=value(5), receiving_facility=value(6), message_type=value(9, whole=True),
        control_id=value(10), processing_id=value(11), version=value(12), accept_ack=value(15).upper(),
        app_ack=value(16).upper(), charset=value(18),
    )  # fmt: skip
    return header, check(header, processing_ids)


def check(header: Header, processing_ids: frozenset[str] = DEFAULT_PROCESSING_IDS) -> list[HL7Error]:
    """Header rules every message must pass before anything else is done with it."""
    errors: list[HL7Error] = []
    comp = header.encoding[:1] or "^"
    if not header.message_type.split(comp)[0]:
        errors.append(HL7Error("101", "MSH^1^9", _("The message type (MSH-9) is missing.")))
    if not header.control_id:
        errors.append(HL7Error("101", "MSH^1^10", _("The message control id (MSH-10) is missing.")))
    if header.processing_id[:1] not in processing_ids:
        text = _("The processing id (MSH-11) {value} is not accepted by this receiver (it accepts {accepted}).")
        accepted = ", ".join(sorted(processing_ids))
        errors.append(HL7Error("202", "MSH^1^11", text.format(value=header.processing_id or '""', accepted=accepted)))
    if not header.version.startswith("2."):
        errors.append(
            HL7Error(
                "203",
                "MSH^1^12",
                _("The version (MSH-12) {value} is not an HL7 v2 version.").format(value=header.version or '""'),
            )
        )
    for name, ack in (("MSH-15", header.accept_ack), ("MSH-16", header.app_ack)):
        if ack and ack not in {"AL", "NE", "ER", "SU"}:
            errors.append(
                HL7Error(
                    "103",
                    f"MSH^1^{name[-2:]}",
                    _("The acknowledgment type ({field}) {value} is not AL, NE, ER or SU.").format(
                        field=name, value=ack
                    ),
                )
            )
    return errors
