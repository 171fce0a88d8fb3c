"""What the receiver knows about the systems that send to it: per-sender rules and the assigning-authority table.

Both are JSON files named in the settings and read once at start-up, so a mistake in them stops the
listener from starting instead of mis-filing messages.

Senders file (`FHIR_MLLP_SENDERS_FILE`), keyed by MSH-4 (sending facility) or MSH-3 (sending application),
MSH-4 tried first:

    {"ACMELAB": {"timezone": "America/Chicago", "invalid_values": "warn"}}

Authorities file (`FHIR_HL7_AUTHORITIES_FILE`): assigning authority (HD namespace ID or universal ID such
as an OID) → the identifier system URI used for it, so one authority is one system whichever way a feed
writes it:

    {"HOSP": "urn:oid:2.16.840.1.113883.19.5", "2.16.840.1.113883.19.5": "urn:oid:2.16.840.1.113883.19.5"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from fhir_server.config import Settings

from .header import DEFAULT_PROCESSING_IDS, PROCESSING_IDS, Header

INVALID_VALUES = {"reject": False, "warn": True}


class ReadingConfigError(ValueError):
    """A senders or authorities file, or the processing ids, that cannot be used; the text says what to fix."""


@dataclass(frozen=True)
class SenderRules:
    """How one sender's messages are read."""

    timezone: ZoneInfo | None = None
    """Zone of times sent without an offset; None: MSH-7's offset, else the server's zone."""
    accept_invalid: bool = False
    """Store a result without a value or time that cannot be stored as sent (warning 102) instead of refusing it."""


@dataclass(frozen=True)
class Senders:
    """The rules of every configured sender; others get the defaults."""

    rules: Mapping[str, SenderRules] = field(default_factory=dict)

    def of(self, header: Header) -> SenderRules:
        for key in (header.sending_facility, header.sending_app):
            if key and key in self.rules:
                return self.rules[key]
        return SenderRules()


def _json_object(path: Path, what: str) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ReadingConfigError(f"{what} {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ReadingConfigError(f"{what} {path}: a JSON object is expected")
    return data


def load_senders(path: Path | None) -> Senders:
    """The senders file (see the module docstring); no file: no sender has rules of its own."""
    if path is None:
        return Senders()
    rules: dict[str, SenderRules] = {}
    for name, entry in _json_object(path, "senders file").items():
        if not isinstance(entry, dict) or set(entry) - {"timezone", "invalid_values"}:
            raise ReadingConfigError(f"senders file {path}: {name}: only 'timezone' and 'invalid_values' are known")
        try:
            zone = ZoneInfo(entry["timezone"]) if entry.get("timezone") else None
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ReadingConfigError(f"senders file {path}: {name}: unknown time zone {entry['timezone']!r}") from exc
        mode = entry.get("invalid_values", "reject")
        if mode not in INVALID_VALUES:
            raise ReadingConfigError(f"senders file {path}: {name}: invalid_values is 'reject' or 'warn'")
        rules[name] = SenderRules(zone, INVALID_VALUES[mode])
    return Senders(rules)


def load_authorities(path: Path | None) -> dict[str, str]:
    """The authorities file (see the module docstring); no file: an empty table."""
    if path is None:
        return {}
    table = _json_object(path, "authorities file")
    bad = [key for key, system in table.items() if not isinstance(system, str) or ":" not in system]
    if bad:
        raise ReadingConfigError(f"authorities file {path}: {bad[0]}: the system must be a URI")
    return table


@dataclass(frozen=True)
class Reading:
    """How a listener reads what arrives: the processing ids (MSH-11) it accepts, per-sender rules, authorities."""

    processing_ids: frozenset[str] = DEFAULT_PROCESSING_IDS
    senders: Senders = field(default_factory=Senders)
    authorities: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> Reading:
        """`FHIR_MLLP_PROCESSING_IDS`, `FHIR_MLLP_SENDERS_FILE`, `FHIR_HL7_AUTHORITIES_FILE`."""
        ids = frozenset(p.strip().upper() for p in settings.mllp_processing_ids.split(",") if p.strip())
        if not ids or ids - PROCESSING_IDS:
            raise ReadingConfigError(f"mllp_processing_ids: {settings.mllp_processing_ids!r} is not a list of P, T, D")
        return cls(ids, load_senders(settings.mllp_senders_file), load_authorities(settings.hl7_authorities_file))
