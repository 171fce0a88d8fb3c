"""FHIR data types as HL7 v2 fields (the reverse of `mapping/datatypes.py`), escaped for `|^~\\&`.

Identifiers keep their system the way the inbound mapping reads it back (`hd_system`), so a
result naming an order number we sent finds the ServiceRequest that carries it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from ..ack import escape
from ..mapping.orders import FILLER_SYSTEM, PLACER_SYSTEM
from ..mapping.tables import CODING_SYSTEMS

AUTHORITY = "urn:hl7v2:assigning-authority:"
V2_TABLE = "http://terminology.hl7.org/CodeSystem/v2-"
SYSTEM_NAMES = {uri: name for name, uri in reversed(CODING_SYSTEMS.items())}
"""FHIR system URI -> v2 coding system name (table 0396; the first name listed wins)."""
SEX = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
_TIME = re.compile(r"(\d{4})(?:-(\d\d))?(?:-(\d\d))?(?:T(\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?)?(Z|[+-]\d\d:\d\d)?$")


def components(*parts: str, sep: str = "^") -> str:
    """Already escaped components joined, trailing empty ones dropped."""
    return sep.join(parts).rstrip(sep)


def hd(system: str | None, sep: str = "^") -> str:
    """An assigning authority (HD) for an Identifier.system; empty for the server's own order-number systems."""
    if not system or system in (PLACER_SYSTEM, FILLER_SYSTEM):
        return ""
    if system.startswith(AUTHORITY):
        return escape(unquote(system.removeprefix(AUTHORITY)))
    if system.startswith("urn:oid:"):
        return components("", escape(system.removeprefix("urn:oid:")), "ISO", sep=sep)
    return components("", escape(system), "URI", sep=sep)


def ei(identifier: Mapping[str, Any]) -> str:
    """EI: value^namespace^universal id^type."""
    return components(escape(str(identifier.get("value", ""))), hd(identifier.get("system")))


def cx(identifier: Mapping[str, Any]) -> str:
    """CX: value^^^authority (HD in subcomponents)^type code."""
    kind = ""
    for coding in (identifier.get("type") or {}).get("coding") or ():
        kind = escape(str(coding.get("code", "")))
        break
    return components(escape(str(identifier.get("value", ""))), "", "", hd(identifier.get("system"), "&"), kind)


def xpn(name: Mapping[str, Any]) -> str:
    """XPN: family^given^further given names."""
    given = [str(g) for g in name.get("given") or ()]
    return components(
        escape(str(name.get("family", ""))), escape(given[0] if given else ""), escape(" ".join(given[1:]))
    )


def cwe(concept: Mapping[str, Any], sep: str = "^") -> str:
    """CWE/CE: code^text^coding system of the first coding, or ^text when there is only text (`sep` "&" inside
    a component)."""
    text = str(concept.get("text", ""))
    for coding in concept.get("coding") or ():
        display = str(coding.get("display") or text)
        return components(
            escape(str(coding.get("code", ""))), escape(display), system_name(coding.get("system")), sep=sep
        )
    return components("", escape(text), sep=sep)


def system_name(system: str | None) -> str:
    """The v2 coding system name of a FHIR system URI; `L` (local) when there is none."""
    if not system:
        return "L"
    if system in SYSTEM_NAMES:
        return SYSTEM_NAMES[system]
    if system.startswith(V2_TABLE) and system.removeprefix(V2_TABLE).isdigit():
        return "HL7" + system.removeprefix(V2_TABLE)
    return "L"


NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NPI_AUTHORITY = "NPI&2.16.840.1.113883.4.6&ISO"
"""XCN-9 for an NPI: the namespace `NPI` and its OID (CMS's National Provider Identifier)."""


def xcn(practitioner: Mapping[str, Any] | None, display: str = "", version: str = "2.5.1") -> str:
    """XCN: id^family^given of a Practitioner (its NPI first, with XCN-9 assigning authority and XCN-13 type
    `NPI`; XCN-13 exists from v2.3 on), or the reference's display as the family name."""
    if not practitioner:
        return components("", escape(display))
    ids = [i for i in practitioner.get("identifier") or () if i.get("value")]
    npi = [i for i in ids if i.get("system") == NPI_SYSTEM]
    chosen = (npi or ids or [{}])[0]
    names = practitioner.get("name") or [{}]
    given = [str(g) for g in names[0].get("given") or ()]
    parts = [escape(str(chosen.get("value", ""))), escape(str(names[0].get("family", ""))),
             escape(given[0] if given else "")]  # fmt: skip
    if npi:
        parts += ["", "", "", "", "", NPI_AUTHORITY, "", "", "", "NPI" if version >= "2.3" else ""]
    elif chosen.get("system"):
        parts += ["", "", "", "", "", hd(chosen.get("system"), "&")]
    return components(*parts)


def ts(value: str | None) -> str:
    """A FHIR date, dateTime or instant as v2 DTM/TS (YYYY[MM[DD[HHMM[SS[.S]]]]][+/-ZZZZ]); empty if unreadable."""
    match = _TIME.match(value or "")
    if match is None:
        return ""
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    digits = "".join(p or "" for p in (year, month, day, hour, minute, second, fraction if second else None))
    if hour and zone:
        digits += "+0000" if zone == "Z" else zone.replace(":", "")
    return digits
