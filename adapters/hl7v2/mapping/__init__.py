"""HL7 v2 → FHIR R4 inbound mapping (HL7 v2-to-FHIR IG): one message in, one transaction Bundle out.

`map_message(text)` is pure (no database, no network). Supported: ORU^R01, ORM^O01, OML^O21 and
ADT A01/A03/A04/A08/A11/A28/A31. https://build.fhir.org/ig/HL7/v2-to-fhir/
"""

from __future__ import annotations

from fhir_server.i18n import _

from .adt import ADT_EVENTS, map_adt
from .bundle import Transaction
from .datatypes import parse_dtm
from .model import Context, MappingError, MappingOptions, MappingResult, Translate
from .orders import map_order
from .results import map_result
from .segments import Message, parse

__all__ = ["MappingError", "MappingOptions", "MappingResult", "Translate", "map_message"]

SUPPORTED = {"ORU": ("R01",), "ORM": ("O01",), "OML": ("O21",), "ADT": ADT_EVENTS}


def _timezone(message: Message) -> str | None:
    """MSH-7's offset, the default for the message's times without one."""
    msh = message.first("MSH")
    stamp = parse_dtm(msh.c(7)) if msh is not None else None
    if stamp and "T" in stamp:
        return stamp[-6:] if stamp[-6] in "+-" else "Z" if stamp.endswith("Z") else None
    return None


def map_message(text: str, options: MappingOptions | None = None) -> MappingResult:
    """Map one HL7 v2 message (CR-separated segments) to a FHIR R4 transaction Bundle."""
    ctx = Context(options or MappingOptions())
    try:
        message = parse(text)
    except ValueError as exc:
        ctx.error("100", "MSH", str(exc))
        return MappingResult(None, ctx.errors)
    msh = message.segments[0]
    kind, event = msh.c(9, 1).upper(), msh.c(9, 2).upper()
    if kind not in SUPPORTED:
        ctx.error("200", msh.loc(9), _("message type '{kind}' is not supported").format(kind=kind), supported=False)
        return MappingResult(None, ctx.errors)
    if event not in SUPPORTED[kind]:
        ctx.error(
            "201",
            msh.loc(9),
            _("event '{kind}^{event}' is not supported").format(kind=kind, event=event),
            supported=False,
        )
        return MappingResult(None, ctx.errors)
    ctx.timezone = _timezone(message)
    tx: Transaction | None
    if kind == "ORU":
        tx = map_result(message, ctx)
    elif kind == "ADT":
        tx = map_adt(message, event, ctx)
    else:
        tx = map_order(message, ctx)
    if tx is None or ctx.failed:
        return MappingResult(None, ctx.errors)
    return MappingResult(tx.bundle(), ctx.errors)
