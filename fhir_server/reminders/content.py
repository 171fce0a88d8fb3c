"""What a reminder says: templates per language filled with the appointment's facts, and its .ics.

Templates are `string.Template` text files (`$when`, `$zone`, `$patient`, `$practitioner`, `$place`,
`$address`, `$phone`, `$visit`), one folder per language: `subject.txt` and `email.txt` for email,
`sms.txt` for SMS, `event.txt` for the calendar entry's title. The shipped ones (en, es, de) are in
`templates/`; a file of the same name under `FHIR_REMINDER_TEMPLATES_DIR/<language>/` replaces one,
and a folder there for another language adds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from ..i18n.formatting import format_datetime
from ..storage.message_outbox import Attachment
from .planning import start_of

SHIPPED = Path(__file__).parent / "templates"
NAMES = ("subject", "email", "sms", "event")


@dataclass(frozen=True)
class Facts:
    """What a reminder tells, gathered from the Appointment and the resources it names."""

    appointment: Mapping[str, Any]
    patient: Mapping[str, Any]
    practitioner: Mapping[str, Any] | None
    location: Mapping[str, Any] | None
    phone: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    attachments: list[Attachment]


def languages(overrides: Path | None) -> tuple[str, ...]:
    """The languages with templates (shipped or in the overrides folder)."""
    folders = [SHIPPED, *([overrides] if overrides else [])]
    return tuple(sorted({d.name for f in folders if f.is_dir() for d in f.iterdir() if d.is_dir()}))


@lru_cache(maxsize=256)
def _template(overrides: Path | None, language: str, name: str) -> Template:
    for folder in (overrides, SHIPPED):
        if folder is None:
            continue
        for lang in (language, "en"):
            path = folder / lang / f"{name}.txt"
            if path.is_file():
                return Template(path.read_text(encoding="utf-8"))
    raise ValueError(f"no reminder template {name} for {language}")


def person_name(resource: Mapping[str, Any] | None) -> str:
    """A HumanName as people write it (its `text`, else prefix, given and family names)."""
    for name in (resource or {}).get("name", []):
        if name.get("text"):
            return str(name["text"])
        parts = [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]
        if written := " ".join(p for p in parts if p):
            return written
    return ""


def _address(location: Mapping[str, Any] | None) -> str:
    found = (location or {}).get("address") or {}
    if found.get("text"):
        return str(found["text"])
    city = " ".join(p for p in (found.get("postalCode", ""), found.get("city", "")) if p)
    return ", ".join(p for p in [*found.get("line", []), city] if p)


def visit_name(appointment: Mapping[str, Any]) -> str:
    """The visit type as written for people (its text or first display), or ""."""
    for concept in [appointment.get("appointmentType") or {}, *appointment.get("serviceType", [])]:
        if concept.get("text"):
            return str(concept["text"])
        for coding in concept.get("coding", []):
            if coding.get("display"):
                return str(coding["display"])
    return ""


def render(
    facts: Facts, language: str, zone: ZoneInfo, overrides: Path | None, channel: str, stamp: datetime
) -> Rendered:
    """The reminder's subject, text and (email) .ics in `language`, times in `zone`."""
    start = start_of(facts.appointment)
    assert start is not None  # only appointments with a start are reminded
    fields = {
        "when": format_datetime(start, language, zone), "zone": zone.key, "patient": person_name(facts.patient),
        "practitioner": person_name(facts.practitioner), "place": (facts.location or {}).get("name", ""),
        "address": _address(facts.location), "phone": facts.phone, "visit": visit_name(facts.appointment),
    }  # fmt: skip
    fill = lambda name: _template(overrides, language, name).safe_substitute(fields).strip()  # noqa: E731
    if channel == "sms":
        return Rendered("", fill("sms"), [])
    return Rendered(fill("subject"), fill("email") + "\n", [_ics(facts, start, stamp, fill("event"), fields)])


def _ics(facts: Facts, start: datetime, stamp: datetime, title: str, fields: Mapping[str, str]) -> Attachment:
    """One VEVENT (times in UTC), whose UID is the appointment's, so calendars update rather than duplicate."""
    calendar = Calendar()
    calendar.add("prodid", "-//fhir-server//reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{facts.appointment.get('id', '')}@fhir-server")
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    if (end := start_of({"start": facts.appointment.get("end")})) is not None:
        event.add("dtend", end)
    event.add("summary", title)
    event.add("location", ", ".join(p for p in (fields["place"], fields["address"]) if p))
    calendar.add_component(event)
    return Attachment("appointment.ics", "text/calendar", calendar.to_ical())
