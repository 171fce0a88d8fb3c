"""Acknowledgements: ACK messages with MSA and ERR segments, and batch replies.

The ACK swaps MSH-3/4 with MSH-5/6, keeps the version and processing id of the message it
answers, gets a fresh control id (MSH-10) and echoes the answered one in MSA-2. Every error
becomes an ERR segment: ERR-1 (ELD, for receivers older than 2.5), ERR-2 location, ERR-3
table 0357 code, ERR-4 severity and ERR-8 a text for people.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from .header import Header, HL7Error

CODE_NAMES = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "104": "Value too long",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}
"""HL7 table 0357 (message error condition codes)."""

DEFAULT_VERSION = "2.5.1"


def new_control_id() -> str:
    """A fresh MSH-10 (20 characters, the v2.5 maximum)."""
    return uuid.uuid4().hex[:20]


def escape(text: str, field_sep: str = "|", encoding: str = "^~\\&") -> str:
    """Escape delimiters in a text value (HL7 v2 escape sequences \\F\\ \\S\\ \\R\\ \\E\\ \\T\\)."""
    chars = (encoding + "^~\\&"[len(encoding) :])[:4]
    comp, rep, esc, sub = chars[0], chars[1], chars[2], chars[3]
    text = text.replace(esc, f"{esc}E{esc}")
    for char, code in ((field_sep, "F"), (comp, "S"), (rep, "R"), (sub, "T")):
        text = text.replace(char, f"{esc}{code}{esc}")
    return " ".join(text.split())  # no CR/LF inside a segment


def err_segment(error: HL7Error, header: Header) -> str:
    """One ERR segment for `error`, in the answered message's delimiters."""
    sep, enc = header.field_sep, header.encoding
    comp = enc[:1] or "^"
    sub = enc[3:4] or "&"
    name = CODE_NAMES.get(error.code, "")
    location = comp.join(escape(part, sep, enc) for part in error.location.split("^"))
    eld = location + f"{comp}{error.code}{sub}{escape(name, sep, enc)}{sub}HL70357"
    cwe = f"{error.code}{comp}{escape(name, sep, enc)}{comp}HL70357"
    severity = error.severity if error.severity in {"E", "W", "I", "F"} else "E"
    return sep.join(["ERR", eld, location, cwe, severity, "", "", "", escape(error.text, sep, enc)])


def build_ack(
    header: Header | None,
    code: str,
    errors: list[HL7Error],
    now: datetime,
    *,
    application: bool = True,
) -> str:
    """An ACK answering `header` (a placeholder header when the MSH could not be read).

    `code` is AA/AE/AR (original mode and enhanced application acks) or CA/CE/CR (commit acks).
    `application` marks an enhanced-mode application ack, sent with MSH-15/16 = NE so it is not acked back.
    """
    h = header or Header()
    sep, enc = h.field_sep, h.encoding
    comp = enc[:1] or "^"
    trigger = h.event
    processing = h.processing_id if h.processing_id[:1] in {"P", "T", "D"} else "P"
    version = h.version or DEFAULT_VERSION
    enhanced_app = application and h.enhanced and code in {"AA", "AE", "AR"}
    msh = [
        "MSH",
        enc,
        h.receiving_app,
        h.receiving_facility,
        h.sending_app,
        h.sending_facility,
        now.strftime("%Y%m%d%H%M%S") + now.strftime("%z"),
        "",
        f"ACK{comp}{trigger}{comp}ACK" if trigger else "ACK",
        new_control_id(),
        processing,
        version,
        "",
        "",
        "NE" if enhanced_app else "",
        "NE" if enhanced_app else "",
        "",
        h.charset,
    ]
    while msh and msh[-1] == "":
        msh.pop()
    text = errors[0].text if errors and code not in {"AA", "CA"} and version < "2.4" else ""
    msa = sep.join(["MSA", code, escape(h.control_id, sep, enc), *([escape(text, sep, enc)] if text else [])])
    return "\r".join([sep.join(msh), msa, *(err_segment(e, h) for e in errors)]) + "\r"


def batch_reply(acks: list[str], envelope: dict[str, str], now: datetime, comment: str = "") -> str:
    """A batch of ACKs answering a batch (FHS/BHS ... BTS/FTS), counts filled in."""
    stamp = now.strftime("%Y%m%d%H%M%S") + now.strftime("%z")
    sep = envelope.get("BHS", envelope.get("FHS", "BHS|"))[3:4] or "|"
    parts: list[str] = []
    note = escape(comment, sep)
    if "FHS" in envelope:
        parts.append(_envelope_header(envelope["FHS"], "FHS", stamp))
    parts.append(_envelope_header(envelope.get("BHS", "BHS|^~\\&"), "BHS", stamp))
    parts += [ack.rstrip("\r") for ack in acks]
    parts.append(sep.join(["BTS", str(len(acks)), note]).rstrip(sep))
    if "FHS" in envelope:
        parts.append(sep.join(["FTS", "1", note]).rstrip(sep))
    return "\r".join(parts) + "\r"


def _envelope_header(segment: str, name: str, stamp: str) -> str:
    """FHS/BHS of the reply: sender and receiver swapped, the answered header's control id as reference."""
    sep = segment[3:4] or "|"
    f = segment.split(sep) + [""] * 12
    # fields: 1 sep, 2 enc, 3 app, 4 fac, 5 recv app, 6 recv fac, 7 time, 8 security, 9 name, 10 comment, 11 ctrl
    reply = [name, f[1] or "^~\\&", f[4], f[5], f[2], f[3], stamp, "", "", "", new_control_id(), f[10]]
    return sep.join(reply).rstrip(sep)
