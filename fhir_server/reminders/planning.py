"""Which reminders an Appointment version asks for, and when each is due."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .config import ReminderRule

REMINDED = ("booked",)
"""Appointment statuses that get reminders (pending is not yet agreed; arrived and later are past it)."""


@dataclass(frozen=True)
class Planned:
    patient: str
    rule: str
    channel: str
    start: datetime
    due: datetime


def patient_of(appointment: Mapping[str, Any]) -> str | None:
    """The first Patient participant's reference ("Patient/id"), if any."""
    for participant in appointment.get("participant", []):
        reference = participant.get("actor", {}).get("reference", "")
        if reference.startswith("Patient/") and participant.get("status") != "declined":
            return str(reference)
    return None


def start_of(appointment: Mapping[str, Any]) -> datetime | None:
    """The start as an aware UTC instant (None when missing or without an offset)."""
    text = appointment.get("start")
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def plan(appointment: Mapping[str, Any], rules: Sequence[ReminderRule], booked_at: datetime) -> list[Planned]:
    """The reminders of a booked appointment with a patient and a start after `booked_at`.

    A rule whose time has passed at booking (booked 30 hours ahead: the 48 h reminder) is not dropped
    silently: of the passed ones, the latest (nearest to the visit) is due at once, the others not at all,
    so a patient booked 1 hour ahead gets one reminder now, not two.
    """
    start, patient = start_of(appointment), patient_of(appointment)
    if appointment.get("status") not in REMINDED or start is None or patient is None:
        return []
    if start <= booked_at:
        return []
    timed = sorted(((start - rule.before, rule) for rule in rules), key=lambda item: item[0])
    passed = [item for item in timed if item[0] <= booked_at]
    kept = [*passed[-1:], *(item for item in timed if item[0] > booked_at)]
    return [
        Planned(patient, rule.id, channel, start, max(due, booked_at))
        for due, rule in kept
        for channel in rule.channels
    ]
