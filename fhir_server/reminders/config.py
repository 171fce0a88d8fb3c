"""Reminder rules: when before an appointment, and by which channels, per practice and per visit type.

The rules are a JSON file an administrator edits (`FHIR_REMINDER_RULES_FILE`), read at start:

    {
      "default": [{"id": "48h", "before": "48h", "channels": ["email"]},
                  {"id": "2h", "before": "2h", "channels": ["email", "sms"]}],
      "locations": {"Location/main-street": [{"id": "24h", "before": "1d", "channels": ["sms"]}]},
      "visitTypes": {"http://snomed.info/sct|185389009": [], "FOLLOWUP": [{"id": "2h", "before": "2h",
                     "channels": ["sms"]}]}
    }

`default` applies to the practice (this server) as a whole; `locations` replace it for appointments
at one site of the practice, `visitTypes` (an `Appointment.serviceType` or `appointmentType` coding,
`system|code` or a bare `code`) for one kind of visit, and win over `locations`; `[]` sends none.
`before` is a number of days, hours or minutes (`2d`, `48h`, `30m`); `id` names the rule in the
reminder's key, so changing a rule's `before` under the same id does not reschedule reminders
already planned. Without the file: 48 h and 2 h before, by email.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config import Settings

CHANNELS = ("email", "sms")
_BEFORE = re.compile(r"(\d+)\s*([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


@dataclass(frozen=True)
class ReminderRule:
    """Remind `before` the start, through each of `channels`."""

    id: str
    before: timedelta
    channels: tuple[str, ...]


@dataclass(frozen=True)
class ReminderRules:
    """The practice's rules: default, per Location reference and per visit type coding."""

    default: tuple[ReminderRule, ...]
    locations: Mapping[str, tuple[ReminderRule, ...]]
    visit_types: Mapping[str, tuple[ReminderRule, ...]]

    def for_appointment(self, appointment: Mapping[str, Any]) -> tuple[ReminderRule, ...]:
        """The rules of one Appointment: its visit type's, else its location's, else the default."""
        for coding in _visit_codings(appointment):
            for key in (f"{coding.get('system', '')}|{coding.get('code', '')}", coding.get("code", "")):
                if key in self.visit_types:
                    return self.visit_types[key]
        for participant in appointment.get("participant", []):
            reference = participant.get("actor", {}).get("reference", "")
            if reference in self.locations:
                return self.locations[reference]
        return self.default


DEFAULT_RULES = ReminderRules(
    (ReminderRule("48h", timedelta(hours=48), ("email",)), ReminderRule("2h", timedelta(hours=2), ("email",))),
    {},
    {},
)


def _visit_codings(appointment: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for concept in [*appointment.get("serviceType", []), appointment.get("appointmentType") or {}]:
        yield from concept.get("coding", [])


def _rule(raw: Any, where: str) -> ReminderRule:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise ValueError(f"{where}: a rule needs an id")
    match = _BEFORE.fullmatch(str(raw.get("before", "")).strip())
    if match is None:
        raise ValueError(f"{where}: before must be like 48h, 2d or 30m")
    channels = raw.get("channels", ["email"])
    if not isinstance(channels, list) or not channels or any(c not in CHANNELS for c in channels):
        raise ValueError(f"{where}: channels must be a list of {', '.join(CHANNELS)}")
    return ReminderRule(raw["id"], timedelta(**{_UNITS[match[2]]: int(match[1])}), tuple(channels))


def _rules(raw: Any, where: str) -> tuple[ReminderRule, ...]:
    if not isinstance(raw, list):
        raise ValueError(f"{where}: a list of rules is expected")
    rules = tuple(_rule(item, f"{where}[{n}]") for n, item in enumerate(raw))
    if len({rule.id for rule in rules}) != len(rules):
        raise ValueError(f"{where}: rule ids repeat")
    return rules


def _table(raw: Any, where: str) -> dict[str, tuple[ReminderRule, ...]]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: an object is expected")
    return {key: _rules(value, f"{where}.{key}") for key, value in raw.items()}


def parse_rules(raw: Any) -> ReminderRules:
    """The rules of a parsed JSON file; raises ValueError naming the bad part."""
    if not isinstance(raw, dict):
        raise ValueError("reminder rules: an object is expected")
    default = _rules(raw["default"], "default") if "default" in raw else DEFAULT_RULES.default
    return ReminderRules(default, _table(raw.get("locations", {}), "locations"),
                         _table(raw.get("visitTypes", {}), "visitTypes"))  # fmt: skip


def read_rules(path: Path | None) -> ReminderRules:
    if path is None:
        return DEFAULT_RULES
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"reminder rules {path}: {exc}") from exc
    return parse_rules(raw)


_configured: list[tuple[Settings, ReminderRules]] = []


def configure(settings: Settings) -> None:
    """Read the rules once at start (a bad file or time zone stops the server here, not at the first booking)."""
    try:
        ZoneInfo(settings.reminder_time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"FHIR_REMINDER_TIME_ZONE {settings.reminder_time_zone!r} is no IANA time zone") from exc
    _configured[:] = [(settings, read_rules(settings.reminder_rules_file))]


def current() -> tuple[Settings, ReminderRules]:
    """The configured settings and rules; a process that did not configure them (a CLI import) reads its
    environment, as the server would."""
    if not _configured:
        configure(Settings.from_env())
    return _configured[0]
