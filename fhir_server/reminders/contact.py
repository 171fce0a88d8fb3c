"""How to reach a patient: the address for a channel, an opt-out, the language and the time zone.

- Address: `Patient.telecom` with `system` `email` (for email) or `sms`, else a `phone` with `use`
  `mobile` (for SMS); the one with the lowest `rank` among those without an ended `period`.
- Opt-out: the extension `OPT_OUT` on the Patient: `valueBoolean` true opts out of every
  reminder; `valueCode` `email` or `sms` (repeatable) of that channel only.
- Language: `Patient.communication` marked `preferred` (else the first), its language's first
  coding (`de`, `es-MX` -> `es`), if templates exist for it; else `FHIR_REMINDER_LANGUAGE`.
- Time zone: the standard `timezone` extension (IANA code) on the Patient, else on the
  appointment's Location, else `FHIR_REMINDER_TIME_ZONE`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

OPT_OUT = "https://fhir-server.dev/StructureDefinition/reminders-opt-out"
TIMEZONE = "http://hl7.org/fhir/StructureDefinition/timezone"


def opted_out(patient: Mapping[str, Any], channel: str) -> bool:
    for extension in patient.get("extension", []):
        if extension.get("url") == OPT_OUT and extension.get("valueBoolean", extension.get("valueCode")) in (
            True, channel,
        ):  # fmt: skip
            return True
    return False


def _usable(point: Mapping[str, Any], now: datetime) -> bool:
    end = point.get("period", {}).get("end")
    if not point.get("value") or not isinstance(end, str):
        return bool(point.get("value"))
    try:
        ended = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return True
    return ended.tzinfo is None or ended > now


def address(patient: Mapping[str, Any], channel: str, now: datetime) -> str | None:
    """The patient's address for `channel`, or None."""
    points = [p for p in patient.get("telecom", []) if _usable(p, now)]
    if channel == "email":
        fitting = [p for p in points if p.get("system") == "email"]
    else:
        fitting = [p for p in points if p.get("system") == "sms"]
        fitting += [p for p in points if p.get("system") == "phone" and p.get("use") == "mobile"]
    fitting.sort(key=lambda p: p.get("rank", 1_000_000) if isinstance(p.get("rank"), int) else 1_000_000)
    return str(fitting[0]["value"]) if fitting else None


def language(patient: Mapping[str, Any], available: Iterable[str], fallback: str) -> str:
    """The patient's preferred language among `available` ones, else `fallback`."""
    known = set(available)
    entries = sorted(patient.get("communication", []), key=lambda c: not c.get("preferred", False))
    for entry in entries:
        for coding in entry.get("language", {}).get("coding", []):
            code = str(coding.get("code", "")).replace("_", "-")
            for candidate in (code, code.split("-")[0].lower()):
                if candidate in known:
                    return candidate
    return fallback


def time_zone(resources: Iterable[Mapping[str, Any] | None], fallback: str) -> ZoneInfo:
    """The first valid `timezone` extension of `resources` (patient, then location), else `fallback`."""
    for resource in resources:
        for extension in (resource or {}).get("extension", []):
            if extension.get("url") == TIMEZONE and isinstance(extension.get("valueCode"), str):
                try:
                    return ZoneInfo(extension["valueCode"])
                except (ZoneInfoNotFoundError, ValueError):
                    continue
    return ZoneInfo(fallback)
