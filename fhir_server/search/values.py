"""One FHIR value turned into the index entries of one search parameter type (R4 search.html).

Each converter takes the value, its FHIR type and the parameter's target types and returns
entries without `p` (the caller adds it; composite components are stored without it). A value
of a type the parameter type cannot use (a Range for a quantity, an Age for a date) gives no
entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from math import isfinite
from typing import Any

from ..decimals import nearest_decimal128
from ..errors import InvalidRequest
from .dates import parse_date_range
from .fhirpath_paths import QUANTITY_TYPES, reference_type
from .normalize import normalize_string
from .ucum import scale, unit_factor

Entry = dict[str, Any]
Converter = Callable[[Any, str, tuple[str, ...]], list[Entry]]

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
"""Open Period ends; both fit a BSON date (milliseconds since 1970, signed 64 bits)."""

UCUM = "http://unitsofmeasure.org"
CURRENCY = "urn:iso:std:iso:4217"
_TEXT_TYPES = frozenset({"string", "markdown", "code", "id", "uri", "url", "canonical", "oid", "uuid"})
_NAME_PARTS = (("family", False), ("given", True), ("prefix", True), ("suffix", True), ("text", False))
_ADDRESS_PARTS = (
    ("line", True),
    ("city", False),
    ("district", False),
    ("state", False),
    ("postalCode", False),
    ("country", False),
    ("text", False),
)


def _coding(coding: Any) -> Entry | None:
    if coding.__class__ is not dict or not (coding.get("code") or coding.get("display")):
        return None
    entry = {"s": coding.get("system"), "c": coding.get("code")}
    if isinstance(coding.get("display"), str):
        entry["t"] = normalize_string(coding["display"])
    return entry


def token(value: Any, fhir_type: str, _targets: tuple[str, ...]) -> list[Entry]:
    """Coding, CodeableConcept (each coding, and the text), Identifier, ContactPoint, primitives."""
    if fhir_type == "CodeableConcept" and value.__class__ is dict:
        entries = [e for e in map(_coding, value.get("coding") or ()) if e]
        if isinstance(value.get("text"), str):
            entries.append({"s": None, "c": None, "t": normalize_string(value["text"])})
        return entries
    if fhir_type == "Coding":
        entry = _coding(value)
        return [entry] if entry else []
    if fhir_type == "Identifier" and value.__class__ is dict:
        if not value.get("value"):
            return []
        base = {"s": value.get("system"), "c": value["value"]}
        kind = value.get("type")
        codings = (kind.get("coding") or ()) if isinstance(kind, dict) else ()
        typed = [{**base, "ts": c.get("system"), "tc": c.get("code")} for c in codings if isinstance(c, dict)]
        return [e for e in typed if e["tc"]] or [base]
    if fhir_type == "ContactPoint" and value.__class__ is dict:
        return [{"s": None, "c": value["value"]}] if value.get("value") else []
    if fhir_type == "boolean" and isinstance(value, bool):
        return [{"s": None, "c": "true" if value else "false"}]
    if isinstance(value, str) and fhir_type in _TEXT_TYPES | {"dateTime", "date", "instant"}:
        return [{"s": None, "c": value}]
    return []


def _texts(value: dict[str, Any], parts: tuple[tuple[str, bool], ...]) -> list[str]:
    out: list[str] = []
    for key, many in parts:
        item = value.get(key)
        if item is None:
            continue
        out.extend(t for t in (item if many and isinstance(item, list) else [item]) if isinstance(t, str))
    return out


def string(value: Any, fhir_type: str, _targets: tuple[str, ...]) -> list[Entry]:
    """string/markdown and the like; HumanName and Address give one entry per part."""
    if isinstance(value, str) and fhir_type in _TEXT_TYPES:
        texts = [value]
    elif fhir_type == "HumanName" and value.__class__ is dict:
        texts = _texts(value, _NAME_PARTS)
    elif fhir_type == "Address" and value.__class__ is dict:
        texts = _texts(value, _ADDRESS_PARTS)
    else:
        return []
    return [{"v": normalize_string(text), "e": text} for text in texts]


def _range(text: Any) -> tuple[datetime, datetime] | None:
    if not isinstance(text, str):
        return None
    try:
        found = parse_date_range(text, "")
    except InvalidRequest:
        return None
    return found.low, found.high


def date(value: Any, fhir_type: str, _targets: tuple[str, ...]) -> list[Entry]:
    """date/dateTime/instant as the range their precision stands for; Period; Timing's outer limits."""
    if fhir_type in ("date", "dateTime", "instant", "string"):
        found = _range(value)
        return [{"lo": found[0], "hi": found[1]}] if found else []
    if value.__class__ is not dict:
        return []
    if fhir_type == "Period":
        start, end = _range(value.get("start")), _range(value.get("end"))
        if start is None and end is None:
            return []
        return [{"lo": start[0] if start else EARLIEST, "hi": end[1] if end else LATEST}]
    if fhir_type == "Timing":
        events = value.get("event")
        spans = [r for r in map(_range, events if isinstance(events, list) else ()) if r]
        repeat = value.get("repeat")
        bounds = repeat.get("boundsPeriod") if isinstance(repeat, dict) else None
        if isinstance(bounds, dict):
            spans += [(e["lo"], e["hi"]) for e in date(bounds, "Period", ())]
        return [{"lo": min(r[0] for r in spans), "hi": max(r[1] for r in spans)}] if spans else []
    return []


def _number(value: Any) -> Decimal | None:
    """A JSON number as decimal128 holds it (exactly: validation refuses decimals that do not fit).

    A float (a resource built in Python, not read from JSON) stands for its shortest repr, as JSON writes it.
    """
    if isinstance(value, Decimal) or type(value) is int:
        return nearest_decimal128(value)
    if type(value) is float and isfinite(value):
        return nearest_decimal128(Decimal(repr(value)))
    return None


def number(value: Any, fhir_type: str, _targets: tuple[str, ...]) -> list[Entry]:
    """integer/decimal (and a Quantity's value, for number parameters on quantities)."""
    found = _number(value.get("value") if fhir_type in QUANTITY_TYPES and value.__class__ is dict else value)
    return [] if found is None else [{"n": found}]


_ucum_factor = lru_cache(maxsize=4096)(unit_factor)
"""The factor and canonical code of a UCUM unit; the query side scales search values the same way."""


def quantity(value: Any, fhir_type: str, _targets: tuple[str, ...]) -> list[Entry]:
    """Quantity and its profiles, with the UCUM-canonical value; Money with its currency as code."""
    if value.__class__ is not dict:
        return []
    found = _number(value.get("value"))
    if found is None:
        return []
    if fhir_type == "Money":
        return [{"n": found, "s": CURRENCY, "c": value.get("currency")}]
    if fhir_type not in QUANTITY_TYPES:
        return []
    system, code = value.get("system"), value.get("code")
    entry: Entry = {"n": found, "s": system, "c": code}
    if isinstance(value.get("unit"), str):
        entry["u"] = value["unit"]
    if system == UCUM and isinstance(code, str):
        canonical = _ucum_factor(code)
        if canonical is not None and (converted := scale(found, canonical[0])).is_finite():
            entry["cn"], entry["cc"] = converted, canonical[1]
    return [entry]


def _literal(reference: str, fhir_type: str | None) -> Entry | None:
    if reference.startswith("#"):
        return None  # a contained resource: not a resource of its own
    version = None
    if "|" in reference and fhir_type != "Reference":
        reference, version = reference.split("|", 1)
    elif "/_history/" in reference:
        reference, version = reference.split("/_history/", 1)
    entry: Entry = {"r": reference}
    kind = reference_type(reference)
    if kind:
        entry["ty"] = kind
    if version:
        entry["rv"] = version
    return entry


def reference(value: Any, fhir_type: str, targets: tuple[str, ...]) -> list[Entry]:
    """Reference (literal and identifier), canonical/uri (`url|version`), Identifier, an inline Resource."""
    entries: list[Entry] = []
    if fhir_type == "Reference" and value.__class__ is dict:
        ref = value.get("reference")
        entry = _literal(ref, fhir_type) if isinstance(ref, str) and ref else None
        if entry is not None:
            kind = entry.get("ty") or value.get("type") or (targets[0] if len(targets) == 1 else None)
            if kind and "ty" not in entry:
                entry["ty"] = kind
            entries.append(entry)
        identifier = value.get("identifier")
        if isinstance(identifier, dict) and identifier.get("value"):
            entries.append({"s": identifier.get("system"), "c": identifier["value"], "ri": True})
    elif fhir_type in ("canonical", "uri", "url") and isinstance(value, str) and value:
        entry = _literal(value, fhir_type)
        if entry is not None:
            if "ty" not in entry and len(targets) == 1:
                entry["ty"] = targets[0]
            entries.append(entry)
    elif fhir_type == "Identifier" and value.__class__ is dict and value.get("value"):
        entries.append({"s": value.get("system"), "c": value["value"], "ri": True})
    elif fhir_type == "Resource" and value.__class__ is dict and value.get("id") and value.get("resourceType"):
        entries.append({"r": f"{value['resourceType']}/{value['id']}", "ty": value["resourceType"]})
    return entries


def uri(value: Any, fhir_type: str, _targets: tuple[str, ...]) -> list[Entry]:
    """uri/url/canonical/oid/uuid as written."""
    return [{"u": value}] if isinstance(value, str) and value else []


CONVERTERS: dict[str, Converter] = {
    "token": token,
    "string": string,
    "date": date,
    "number": number,
    "quantity": quantity,
    "reference": reference,
    "uri": uri,
}
"""Per parameter type; composite is assembled from these by `extract`, special is not indexed."""
