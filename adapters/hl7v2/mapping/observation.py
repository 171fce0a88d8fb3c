"""OBX (+ NTE) → Observation (IG segment map OBX[Observation]). https://build.fhir.org/ig/HL7/v2-to-fhir/ConceptMap-segment-obx-to-observation.html"""

from __future__ import annotations

import re
from typing import Any

from fhir_server.i18n import _

from .datatypes import coded, cwe, datetime_of, number, quantity, sn
from .model import Context
from .segments import ResultGroup, Segment, Value
from .tables import INTERPRETATION, INTERPRETATION_DISPLAY, OBSERVATION_STATUS, V3_INTERPRETATION

_RANGE = re.compile(r"\s*([+-]?\d*\.?\d+)\s*(?:-|_|&|\^|to)\s*([+-]?\d*\.?\d+)\s*")
_BOUND = re.compile(r"\s*(<=?|>=?)\s*([+-]?\d*\.?\d+)\s*")
_TM = re.compile(r"(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?")
TEXT_TYPES = ("ST", "TX", "FT")
R5_VALUE = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.value"
CODED_TYPES = ("CWE", "CE", "CNE", "CF")


def value_of(obx: Segment, ctx: Context) -> dict[str, Any]:
    """`value[x]` for OBX-5 according to OBX-2 (empty dict when absent or skipped, with a 102 warning)."""
    kind = obx.c(2).upper()
    values = obx.reps(5)
    if not values:
        return {}
    loc, units = obx.loc(5), obx.first(6)
    if kind in TEXT_TYPES:
        return {"valueString": "\n".join(v.text() for v in values)}
    if len(values) > 1:
        ctx.warn("102", loc, _("OBX-5 repeats for type {type}: only the first value is mapped").format(type=kind))
    first = values[0]
    out = _single(kind, first, units, ctx, loc)
    if out is None:
        unstorable(ctx, loc, first.text()[:40], kind)
        return {}
    return out


def unstorable(ctx: Context, loc: str, value: str, kind: str) -> None:
    """A result `value` that is not a valid `kind` cannot be stored as sent: the message is refused (102, E),
    unless its sender's results may be stored without it (then a warning says what was skipped)."""
    if ctx.options.accept_invalid:
        ctx.warn("102", loc, _("'{value}' is not a valid {type} value: skipped").format(value=value, type=kind))
    else:
        refused = _("'{value}' is not a valid {type} value: nothing was stored")
        ctx.error("102", loc, refused.format(value=value, type=kind))


def _single(kind: str, value: Value, units: Value | None, ctx: Context, loc: str) -> dict[str, Any] | None:
    """One OBX-5 value of type `kind`; None when it does not parse."""
    if kind == "NM":
        n = number(value.text())
        return None if n is None else {"valueQuantity": quantity(n, units)}
    if kind == "SN":
        return sn(value, units)
    if kind in CODED_TYPES:
        concept = cwe(value, ctx.options.translate)
        return {"valueCodeableConcept": concept} if concept else None
    if kind in ("DT", "DTM", "TS"):
        when = datetime_of(value.c(1), ctx, loc, required=not ctx.options.accept_invalid)
        return {"valueDateTime": when} if when else {}  # datetime_of already reported it
    if kind == "TM":
        m = _TM.fullmatch(value.c(1))
        if not m or int(m.group(1)) > 23 or int(m.group(2) or 0) > 59 or int(m.group(3) or 0) > 59:
            return None
        return {"valueTime": f"{m.group(1)}:{m.group(2) or '00'}:{m.group(3) or '00'}{m.group(4) or ''}"}
    if kind == "NR":
        low, high = number(value.c(1)), number(value.c(2))
        if low is None and high is None:
            return None
        rng = {k: quantity(v, units) for k, v in (("low", low), ("high", high)) if v is not None}
        return {"valueRange": rng}
    if kind == "ED":
        return _attachment(value)
    if kind == "RP":
        pointer = value.c(1)
        if re.match(r"[a-z][a-z0-9+.-]*://\S+$", pointer, re.I):
            return {"valueAttachment": {"url": pointer}}
        return {"valueString": pointer} if pointer else None
    ctx.warn(
        "102",
        loc.rsplit("^", 1)[0] + "^2",
        _("OBX-2 value type '{type}' is not supported: value skipped").format(type=kind),
    )
    return {}


def _attachment(value: Value) -> dict[str, Any] | None:
    """ED (source^type^subtype^encoding^data) → valueAttachment; Base64 data only (else 102)."""
    kind, subtype, encoding, data = value.c(2).lower(), value.c(3).lower(), value.c(4).upper(), value.raw(5)
    mime = {"application", "audio", "image", "text", "video", "multipart", "model"}
    attachment: dict[str, Any] = {}
    if kind in mime and subtype:
        attachment["contentType"] = f"{kind}/{subtype}"
    elif subtype == "octet-stream" or kind == "ap":
        attachment["contentType"] = "application/octet-stream"
    data = "".join(data.split())
    if data:
        if encoding not in ("BASE64", "") or len(data) % 4 or not re.fullmatch(r"[A-Za-z0-9+/=]+", data):
            return None
        attachment["data"] = data
    return {"valueAttachment": attachment} if attachment else None


def reference_range(obx: Segment, units: Value | None) -> list[dict[str, Any]]:
    """OBX-7 → referenceRange: the text, plus low/high when numeric (`a-b`, `a_b`, `a to b`, `<b`, `>a`)."""
    raw = obx.raw(7)
    if not raw.strip():
        return []
    text = obx.delims.decode(raw).strip()
    out: dict[str, Any] = {}
    if m := _RANGE.fullmatch(text.replace(obx.delims.component, "^")):
        low, high = number(m.group(1)), number(m.group(2))
        if low is not None and high is not None:
            out = {"low": quantity(low, units), "high": quantity(high, units)}
    elif m := _BOUND.fullmatch(text):
        bound = number(m.group(2))
        if bound is not None:
            out = {"high" if m.group(1).startswith("<") else "low": quantity(bound, units)}
    for q in out.values():
        q.pop("comparator", None)
    return [{**out, "text": text}]


def interpretation(obx: Segment, ctx: Context) -> list[dict[str, Any]]:
    """OBX-8 (table 0078) → v3-ObservationInterpretation codings."""
    out = []
    for value in obx.reps(8):
        flag = value.c(1)
        code = INTERPRETATION.get(flag) or INTERPRETATION.get(flag.upper())
        if code is None:
            ctx.warn("103", obx.loc(8), _("'{value}' is not in table 0078 (interpretation codes)").format(value=flag))
            continue
        item: dict[str, Any] = {"system": V3_INTERPRETATION, "code": code}
        if code in INTERPRETATION_DISPLAY:
            item["display"] = INTERPRETATION_DISPLAY[code]
        out.append({"coding": [item], **({"text": value.c(2)} if value.c(2) else {})})
    return out


def observation_status(obx: Segment, ctx: Context) -> str:
    """OBX-11 (table 0085) → Observation.status; empty or unknown → 'unknown' with a warning."""
    code = obx.c(11).upper()
    if code in OBSERVATION_STATUS:
        return OBSERVATION_STATUS[code]
    if code:
        ctx.warn("103", obx.loc(11), _("'{value}' is not in table 0085 (observation result status)").format(value=code))
    else:
        ctx.warn("101", obx.loc(11), _("OBX-11 (observation result status) is empty: status 'unknown'"))
    return "unknown"


def notes_of(notes: list[Segment]) -> list[dict[str, Any]]:
    """NTE-3 comments → Annotation (one per NTE; repetitions joined by new lines)."""
    out = []
    for nte in notes:
        text = "\n".join(v.text() for v in nte.reps(3))
        if text:
            out.append({"text": text})
    return out


def build_observation(group: ResultGroup, ctx: Context, fallback_time: str | None) -> dict[str, Any] | None:
    """The Observation for one OBX (no subject/identifier yet); None (101 warning) without OBX-3."""
    obx = group.obx
    code = coded(obx.first(3), ctx, obx.loc(3))
    if code is None:
        ctx.warn("101", obx.loc(3), _("OBX-3 (observation identifier) is empty: OBX skipped"))
        return None
    obs: dict[str, Any] = {"resourceType": "Observation", "status": observation_status(obx, ctx), "code": code}
    obs.update(value_of(obx, ctx))
    if "valueAttachment" in obs:  # R4 has no Observation.valueAttachment: the R5 cross-version extension
        obs["extension"] = [{"url": R5_VALUE, "valueAttachment": obs.pop("valueAttachment")}]
    units = obx.first(6)
    if ranges := reference_range(obx, units):
        obs["referenceRange"] = ranges
    if flags := interpretation(obx, ctx):
        obs["interpretation"] = flags
    when = datetime_of(obx.c(14), ctx, obx.loc(14), required=not ctx.options.accept_invalid) or fallback_time
    if when:
        obs["effectiveDateTime"] = when
    if notes := notes_of(group.notes):
        obs["note"] = notes
    return obs
