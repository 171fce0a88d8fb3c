"""A practitioner's appointments as an iCalendar feed: `GET /calendar/{token}.ics`.

A clinician subscribes to the feed in a calendar app; the token (from `Practitioner/[id]/$calendar-token`)
is the only credential, and calendar apps copy feeds to their own servers, so the feed tells what the
practitioner needs to plan the day and nothing about the patients: each event is the appointment's time,
its visit type (or "Appointment"), its place (Location name) and status (booked: CONFIRMED, pending:
TENTATIVE), with the Appointment id as UID. Who is coming is read in the EHR. It lists the
appointments from 30 days ago on that are pending, booked, arrived or checked in (at most 1000).
An unknown or revoked token is a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from icalendar import Calendar, Event
from starlette.responses import Response

from ..auth.policy import AccessPolicy
from ..engine.identity import now
from ..engine.search import search_type
from ..errors import ResourceNotFound
from ..i18n import _
from ..search.registry import default_registry
from ..search.request import parse_search_request
from ..storage.database import Database
from .content import person_name, visit_name
from .planning import start_of
from .reading import current

FEED = AccessPolicy.system("calendar-feed")
LISTED = ("pending", "booked", "arrived", "checked-in")
PAST = timedelta(days=30)
MOST = 1000
_STATUS = {"pending": "TENTATIVE"}

router = APIRouter()


async def appointments_of(database: Database, practitioner: str, since: datetime) -> list[dict[str, Any]]:
    """The practitioner's listed appointments starting from `since`."""
    criteria = [("actor", practitioner), ("status", ",".join(LISTED)), ("date", f"ge{since.date().isoformat()}"),
                ("_sort", "date")]  # fmt: skip
    request = parse_search_request(
        "Appointment", criteria, default_registry(), default_count=MOST, max_count=MOST, strict=True
    )
    result = await search_type(database.resources, FEED, request)
    return [record.resource() for record in result.page.records]


def feed(practitioner: Mapping[str, Any], appointments: list[dict[str, Any]], places: Mapping[str, str]) -> bytes:
    """The VCALENDAR of a practitioner's appointments (times in UTC)."""
    calendar = Calendar()
    calendar.add("prodid", "-//fhir-server//calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", person_name(practitioner) or practitioner.get("id", ""))
    stamp = now()
    for appointment in appointments:
        start, end = start_of(appointment), start_of({"start": appointment.get("end")})
        if start is None:
            continue
        event = Event()
        event.add("uid", f"{appointment['id']}@fhir-server")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", end or start + timedelta(minutes=appointment.get("minutesDuration", 15)))
        event.add("summary", visit_name(appointment) or _("Appointment"))
        event.add("status", _STATUS.get(appointment.get("status", ""), "CONFIRMED"))
        actors = [p.get("actor", {}).get("reference", "") for p in appointment.get("participant", [])]
        if where := [places[a] for a in actors if a in places]:
            event.add("location", where[0])
        calendar.add_component(event)
    return calendar.to_ical()


@router.get("/calendar/{token}.ics")
async def calendar_feed(token: str, request: Request) -> Response:
    database: Database = request.app.state.database
    practitioner = await database.calendar_tokens.practitioner(token)
    found = (await current(database.resources, [practitioner])).get(practitioner) if practitioner else None
    if practitioner is None or found is None:
        raise ResourceNotFound(_("No calendar for this address; it may have been revoked."))
    appointments = await appointments_of(database, practitioner, now() - PAST)
    actors = {a.get("actor", {}).get("reference", "") for ap in appointments for a in ap.get("participant", [])}
    locations = await current(database.resources, sorted(r for r in actors if r.startswith("Location/")))
    places = {reference: str(location.get("name", "")) for reference, location in locations.items()}
    body = feed(found, appointments, places)
    return Response(body, media_type="text/calendar; charset=utf-8", headers={"Cache-Control": "no-store"})
