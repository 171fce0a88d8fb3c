"""HL7 v2 data types → FHIR R4 data types (IG datatype maps): DTM, CX, EI, HD, XPN, XAD, XTN, CWE, NM, SN."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fhir_server.decimals import FhirDecimal
from fhir_server.i18n import _

from .model import Context, Translate
from .segments import Value
from .tables import UCUM, V2_0203, coding_system, ucum

LOCAL_SYSTEM_PREFIX = "urn:hl7v2:coding-system:"
_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?")
_OID = re.compile(r"[0-2](\.(0|[1-9]\d*))+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class ServerZone(tzinfo):
    """The server's own time zone, with its daylight saving rules (the C library's, so `TZ` is honoured)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return (dt or datetime.now()).replace(tzinfo=None).astimezone().utcoffset() or timedelta(0)

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "server"


SERVER_ZONE = ServerZone()


def _offset(zone: str | tzinfo, year: str, month: str, day: str, hour: str, minute: str | None) -> str:
    """A fixed offset as given, or the offset a zone has at that local time (DST-aware)."""
    if isinstance(zone, str):
        return zone
    local = datetime(int(year), int(month), int(day), int(hour), int(minute or 0), tzinfo=zone)
    delta = local.utcoffset() or timedelta(0)
    sign, minutes = ("-" if delta < timedelta(0) else "+"), abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def parse_dtm(text: str, default_tz: str | tzinfo | None = None) -> str | None:
    """A v2 DTM as a FHIR dateTime (precision kept, seconds padded once a time is given), or None if invalid.

    FHIR needs a timezone with any time: the value's own, else `default_tz` (a fixed offset such as `+01:00`,
    or a zone whose offset at that local time is taken), else only the date is kept.
    """
    m = _DTM.fullmatch(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, frac, tz = m.groups()
    if month and not 1 <= int(month) <= 12 or day and not 1 <= int(day) <= 31:
        return None
    if hour and (int(hour) > 23 or (minute and int(minute) > 59) or (second and int(second) > 60)):
        return None
    out = year + (f"-{month}" if month else "") + (f"-{day}" if day and month else "")
    if tz and not (int(tz[1:3]) <= 14 and int(tz[3:]) < 60):
        return None
    if hour and day and month and (tz or default_tz is not None):
        try:
            zone = f"{tz[:3]}:{tz[3:]}" if tz else _offset(default_tz or "Z", year, month, day, hour, minute)
        except ValueError:  # the 31st of a short month
            return None
        out += f"T{hour}:{minute or '00'}:{second or '00'}{frac if second and frac else ''}{zone}"
    return out


def datetime_of(value: str, ctx: Context, loc: str, required: bool = False) -> str | None:
    """`parse_dtm` recording a 102 (W, or E when required) for invalid text; '' → None.

    A time without an offset is read in the sender's configured zone, else at MSH-7's offset, else in the
    server's zone: its time of day is never dropped."""
    if not value:
        return None
    parsed = parse_dtm(value, ctx.options.default_timezone or ctx.timezone or SERVER_ZONE)
    if parsed is None:
        (ctx.error if required else ctx.warn)("102", loc, _("'{value}' is not a valid DTM").format(value=value[:40]))
    return parsed


def date_of(value: str, ctx: Context, loc: str) -> str | None:
    """A v2 DT/DTM as a FHIR date (birth dates)."""
    parsed = datetime_of(value, ctx, loc)
    return parsed[:10] if parsed else None


def hd_system(hd: Value, authorities: Mapping[str, str] | None = None) -> str | None:
    """A stable URI for an assigning authority / namespace (HD): the authority table's system for its universal
    ID or namespace ID when listed there (one authority written as a namespace by one feed and as an OID by
    another), else `urn:oid:` for ISO OIDs, else a namespace URN."""
    universal, kind = hd.c(2), hd.c(3).upper()
    for key in (universal, hd.c(1)):
        if key and authorities and key in authorities:
            return authorities[key]
    if universal and (kind == "ISO" or not kind) and _OID.fullmatch(universal):
        return f"urn:oid:{universal}"
    if universal and kind in ("URI", "URL") and ":" in universal:
        return universal
    name = hd.c(1) or universal
    return f"urn:hl7v2:assigning-authority:{quote(name, safe='')}" if name else None


def _type(code: str) -> dict[str, Any]:
    return {"coding": [{"system": V2_0203, "code": code}]}


def cx(value: Value, authorities: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """CX → Identifier (system from CX-4, else CX-9/CX-10; type from CX-5)."""
    ident = value.c(1)
    if not ident:
        return None
    out: dict[str, Any] = {"value": ident}
    for n in (4, 9, 10):
        if system := hd_system(value.sub(n), authorities):
            out["system"] = system
            break
    if value.c(5):
        out["type"] = _type(value.c(5))
    return out


def ei(
    value: Value, type_code: str | None = None, authorities: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """EI → Identifier (system from EI-2..4)."""
    ident = value.c(1)
    if not ident:
        return None
    out: dict[str, Any] = {"value": ident}
    hd = Value(value.parts[1:4], value.delims, value.sep)
    if system := hd_system(hd, authorities):
        out["system"] = system
    if type_code:
        out["type"] = _type(type_code)
    return out


def xpn(value: Value) -> dict[str, Any] | None:
    """XPN → HumanName (family, given + middle, prefix, suffix, use from XPN-7)."""
    name: dict[str, Any] = {}
    if family := value.c(1):
        name["family"] = family
    given = [g for g in (value.c(2), *value.c(3).split()) if g]
    if given:
        name["given"] = given
    if value.c(5):
        name["prefix"] = [value.c(5)]
    suffix = [s for s in (value.c(4), value.c(6)) if s]
    if suffix:
        name["suffix"] = suffix
    if not name:
        return None
    use = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "anonymous", "B": "official"}
    if value.c(7) in use:
        name["use"] = use[value.c(7)]
    return name


def xad(value: Value) -> dict[str, Any] | None:
    """XAD → Address (lines, city, state, postal code, country, use from XAD-7)."""
    lines = [x for x in (value.c(1), value.c(2)) if x]
    addr: dict[str, Any] = {"line": lines} if lines else {}
    for key, i in (("city", 3), ("state", 4), ("postalCode", 5), ("country", 6), ("district", 9)):
        if value.c(i):
            addr[key] = value.c(i)
    if not addr:
        return None
    use = {"H": "home", "O": "work", "B": "work", "C": "temp", "BA": "billing", "M": "home"}
    if value.c(7) in use:
        addr["use"] = use[value.c(7)]
    return addr


def xtn(value: Value, default_use: str) -> dict[str, Any] | None:
    """XTN → ContactPoint (XTN-4 e-mail, XTN-12 unformatted, else area code + local number, else XTN-1)."""
    use = {"PRN": "home", "ORN": "home", "VHN": "home", "WPN": "work", "PRS": "mobile", "EMR": "home"}
    equipment = value.c(3).upper()
    if value.c(4) and (equipment in ("INTERNET", "X.400") or "@" in value.c(4)):
        return {"system": "email", "value": value.c(4)}
    number = value.c(12) or "".join(x for x in (value.c(6), value.c(7)) if x) or value.c(1)
    if not number:
        return None
    system = {"FX": "fax", "BP": "pager", "CP": "phone", "PH": "phone"}.get(equipment, "phone")
    out = {"system": system, "value": number, "use": use.get(value.c(2).upper(), default_use)}
    if equipment == "CP":
        out["use"] = "mobile"
    return out


def local_system(name: str) -> str:
    """The system URI of a v2 coding-system name with no standard URI (a lab's own codes)."""
    return LOCAL_SYSTEM_PREFIX + quote(name, safe="")


def coding(code: str, display: str, system_name: str) -> dict[str, Any] | None:
    """One Coding; unknown system names become `local_system(name)`."""
    if not code and not display:
        return None
    out: dict[str, Any] = {}
    if system_name:
        out["system"] = coding_system(system_name) or local_system(system_name)
    if code:
        out["code"] = code
    if display:
        out["display"] = display
    return out


def cwe(value: Value | None, translate: Translate | None = None) -> dict[str, Any] | None:
    """CWE/CE → CodeableConcept: both triplets (1-3, 4-6) kept, text from CWE-9 or a display; plus `translate`."""
    if value is None:
        return None
    codings = [c for c in (coding(value.c(1), value.c(2), value.c(3)), coding(value.c(4), value.c(5), value.c(6))) if c]
    codings = [c for c in codings if "code" in c or "system" in c]
    if translate is not None:
        for source in list(codings):
            target = translate(source.get("system", ""), source["code"]) if "code" in source else None
            if target and target not in codings:
                codings.append(target)
    text = value.c(9) or value.c(2) or value.c(5)
    if not codings and not text:
        return None
    out: dict[str, Any] = {"coding": codings} if codings else {}
    if text:
        out["text"] = text
    return out


def coded(value: Value | None, ctx: Context, loc: str) -> dict[str, Any] | None:
    """`cwe` with the message's translation; a local code left without any standard coding is reported (103, W).

    Only when a translation hook is given: without one nobody was asked, so nothing is missing.
    """
    concept = cwe(value, ctx.options.translate)
    if concept is None or ctx.options.translate is None:
        return concept
    codings = concept.get("coding", [])
    local = [c for c in codings if "code" in c and c.get("system", LOCAL_SYSTEM_PREFIX).startswith(LOCAL_SYSTEM_PREFIX)]
    if local and len(local) == len(codings):
        first = local[0]
        ctx.warn(
            "103",
            loc,
            _(
                "local code '{code}' ({system}) has no standard code in a ConceptMap on this server: kept untranslated"
            ).format(code=first["code"], system=first.get("system", _("no coding system"))),
        )
    return concept


def number(text: str) -> FhirDecimal | None:
    """An NM value as an exact JSON number ('0065.88' → 65.88, '1.50' stays 1.50, no binary float), or None."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    return FhirDecimal(str(Decimal(text)))  # the pattern admits only valid decimals; str drops leading zeros


def quantity(value: Decimal, units: Value | None) -> dict[str, Any]:
    """A Quantity with units (CWE in OBX-6): UCUM code when known, unit text kept."""
    out: dict[str, Any] = {"value": value}
    if units is None:
        return out
    ident, text, system = units.c(1), units.c(2), units.c(3).upper()
    code = ident if system == "UCUM" and ident else ucum(ident or text)
    out["unit"] = text or ident
    if code:
        out["system"], out["code"] = UCUM, code
    return out


def sn(value: Value, units: Value | None) -> dict[str, Any] | None:
    """SN (comparator^num1^separator^num2) → valueQuantity (with comparator), valueRatio or valueRange."""
    comparator, sep = value.c(1), value.c(3)
    first, second = number(value.c(2)), number(value.c(4))
    if first is None or comparator not in ("", "<", ">", "<=", ">=", "=", "<>"):
        return None
    if not sep and second is None:
        q = quantity(first, units)
        if comparator in ("<", ">", "<=", ">="):
            q["comparator"] = comparator
        return {"valueQuantity": q}
    if second is None or comparator:
        return None
    if sep in (":", "/"):
        return {"valueRatio": {"numerator": quantity(first, units), "denominator": {"value": second}}}
    if sep == "-":
        return {"valueRange": {"low": quantity(first, units), "high": quantity(second, units)}}
    return None
