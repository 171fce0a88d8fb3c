"""What the scheduling workflow reads off an Appointment: its actors, its times, whether it holds time.

An appointment holds its actors' time when its status is pending (a hold, or a request), booked, arrived
or checked-in, unless it is a hold whose `appointment-hold-expires` instant has passed: an expired hold
frees the time by itself, before the expire-holds duty cancels it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import InvalidRequest
from ..i18n import _
from .extensions import HOLD_EXPIRES

HOLDING = ("pending", "booked", "arrived", "checked-in")
"""Statuses whose appointment keeps its actors busy."""
FINAL = ("cancelled", "noshow", "fulfilled", "entered-in-error")
"""Statuses an appointment never leaves for a holding one."""
LONGEST = timedelta(hours=24)
"""The longest appointment that holds time: searches for overlaps look this far back."""
SCHEDULED_TYPES = ("Practitioner", "PractitionerRole", "Location", "HealthcareService", "Device")
_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


@dataclass(frozen=True)
class Actor:
    """One participant's actor: `reference` ("Practitioner/1") and its place (`Appointment.participant[i].actor`)."""

    reference: str
    where: str

    @property
    def resource_type(self) -> str:
        return self.reference.split("/", 1)[0]


def relative(reference: Any) -> str | None:
    """`Type/id` of a literal reference (relative or absolute), None for anything else."""
    if not isinstance(reference, str):
        return None
    match = _REFERENCE.search(reference)
    return match.group(1) if match else None


def actors(appointment: dict[str, Any]) -> list[Actor]:
    """The actors whose time the appointment takes (participants that did not decline), each once."""
    found: dict[str, Actor] = {}
    participants = appointment.get("participant")
    for index, participant in enumerate(participants if isinstance(participants, list) else []):
        if not isinstance(participant, dict) or participant.get("status") == "declined":
            continue
        actor = participant.get("actor")
        reference = relative(actor.get("reference")) if isinstance(actor, dict) else None
        if reference is not None and reference not in found:
            found[reference] = Actor(reference, f"Appointment.participant[{index}].actor")
    return list(found.values())


def instant(text: Any, where: str) -> datetime:
    """A FHIR instant (with its offset) as an aware datetime; InvalidRequest naming `where` otherwise."""
    if isinstance(text, str) and len(text) > 10:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment.astimezone(UTC)
    raise InvalidRequest(
        _("'{value}' is not an instant with a time zone offset.").format(value=str(text)[:40]), expression=where
    )


def times(appointment: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """The appointment's (start, end), None when it has neither; raises InvalidRequest when they make no sense."""
    start, end = appointment.get("start"), appointment.get("end")
    if start is None and end is None:
        return None
    began = instant(start, "Appointment.start")
    ended = instant(end, "Appointment.end")
    if ended <= began:
        raise InvalidRequest(_("The appointment must end after it starts."), expression="Appointment.end")
    if ended - began > LONGEST:
        raise InvalidRequest(_("An appointment may last at most 24 hours."), expression="Appointment.end")
    return began, ended


def hold_expiry(appointment: dict[str, Any]) -> datetime | None:
    """When the hold on `appointment` lapses (None: it is not a hold)."""
    for extension in appointment.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == HOLD_EXPIRES:
            try:
                return instant(extension.get("valueInstant"), "Appointment.extension")
            except InvalidRequest:
                return None
    return None


def holds_time(appointment: dict[str, Any], now: datetime) -> bool:
    """Whether `appointment` keeps its actors busy at `now` (see the module docstring)."""
    if appointment.get("status") not in HOLDING:
        return False
    expiry = hold_expiry(appointment)
    return expiry is None or expiry > now


def format_instant(moment: datetime) -> str:
    """A UTC instant as FHIR writes it, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
