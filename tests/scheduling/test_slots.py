"""Slot generation and the scheduling duties, on a fresh database of the real embedded server.

Generation takes `now` as an argument, so a spring-forward and a fall-back week can be generated as
they will be; the duties are run round by round, twice, as a second lease holder would repeat them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fhir_server.config import Settings
from fhir_server.duties import DutyContext
from fhir_server.engine import create_resource, read_resource, update_resource
from fhir_server.scheduling import booking
from fhir_server.scheduling.duties import SCHEDULING_DUTIES
from fhir_server.scheduling.lookup import find_all
from fhir_server.scheduling.slots import OUTSIDE_HOURS, generate_slots
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore, ResourceStore
from fhir_server.storage.database import Database
from tests.conftest import TEST_POLICY
from tests.scheduling.helpers import hours, schedule_body

Scenario = Callable[[Database], Awaitable[None]]


def _on_fresh_database(database: EmbeddedDatabase, scenario: Scenario) -> None:
    async def run() -> None:
        store = MongoResourceStore.connect(database.uri, f"slots_{uuid.uuid4().hex[:8]}")
        try:
            built = Database.build(store.client, Settings(database=store.database_name))
            await built.ensure_indexes()
            await scenario(built)
            await store.client.drop_database(store.database_name)
        finally:
            await store.close()

    asyncio.run(run())


async def _create(store: ResourceStore, body: dict[str, Any]) -> dict[str, Any]:
    return (await create_resource(store, TEST_POLICY, body["resourceType"], body)).record.resource()


async def _schedule(
    store: ResourceStore, zone: str, rule: str = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", **options: Any
) -> dict[str, Any]:
    doctor = await _create(store, {"resourceType": "Practitioner", "name": [{"family": "Weekday"}]})
    body = schedule_body([f"Practitioner/{doctor['id']}"], zone=zone, **options)
    body["extension"][1] = hours(rule)
    return await _create(store, body)


async def _slots(store: ResourceStore, schedule: dict[str, Any]) -> list[dict[str, Any]]:
    found = await find_all(store, "Slot", [("schedule", f"Schedule/{schedule['id']}")])
    return sorted(found, key=lambda slot: slot["start"])


def _local(slot: dict[str, Any], zone: str) -> str:
    return datetime.fromisoformat(slot["start"].replace("Z", "+00:00")).astimezone(ZoneInfo(zone)).strftime("%a %H:%M")


def _week(database: EmbeddedDatabase, zone: str, thursday: datetime, change: datetime) -> None:
    """Daily hours 09:00-12:00 over the week from `thursday`, across the Sunday of `change`."""

    async def scenario(built: Database) -> None:
        schedule = await _schedule(built.resources, zone, "FREQ=DAILY")
        await generate_slots(built.resources, schedule, thursday - timedelta(minutes=5), 7)
        slots = await _slots(built.resources, schedule)
        assert len(slots) == 7 * 6  # 09:00-12:00 in 30-minute slots, every day
        assert {_local(s, zone)[4:] for s in slots} == {"09:00", "09:30", "10:00", "10:30", "11:00", "11:30"}
        firsts = [s for s in slots if _local(s, zone).endswith("09:00")]
        assert [_local(s, zone)[:3] for s in firsts] == ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        utc_hours = {s["start"][:10]: s["start"][11:16] for s in firsts}
        before = {h for day, h in utc_hours.items() if day < change.date().isoformat()}
        after = {h for day, h in utc_hours.items() if day >= change.date().isoformat()}
        assert len(before) == 1 and len(after) == 1 and before != after  # the UTC instant moved, 09:00 did not
        hour = timedelta(hours=1)
        moved = datetime.strptime(after.pop(), "%H:%M") - datetime.strptime(before.pop(), "%H:%M")
        assert moved == (-hour if change.month < 6 else hour)

    _on_fresh_database(database, scenario)


def test_spring_forward_week_keeps_nine_oclock_local(database: EmbeddedDatabase) -> None:
    # Europe/Berlin: Sunday 2027-03-28 02:00 -> 03:00 (09:00 is 08:00Z before, 07:00Z after)
    _week(database, "Europe/Berlin", datetime(2027, 3, 25, tzinfo=UTC), datetime(2027, 3, 28, tzinfo=UTC))


def test_fall_back_week_keeps_nine_oclock_local(database: EmbeddedDatabase) -> None:
    # America/New_York: Sunday 2027-11-07 02:00 -> 01:00 (09:00 is 13:00Z before, 14:00Z after)
    _week(database, "America/New_York", datetime(2027, 11, 4, tzinfo=UTC), datetime(2027, 11, 7, tzinfo=UTC))


def test_generate_slots_duty_twice_writes_once_and_honours_closed_days(database: EmbeddedDatabase) -> None:
    async def scenario(built: Database) -> None:
        now = datetime.now(UTC)
        closed_day = (now + timedelta(days=3)).date().isoformat()
        schedule = await _schedule(built.resources, "Europe/Berlin", closed=[{"start": closed_day, "end": closed_day}])
        duty = next(d for d in SCHEDULING_DUTIES if d.name == "generate-slots")
        context = DutyContext(built, Settings(slot_horizon_days=14), "test-worker")
        await duty.run(context)
        first = await _slots(built.resources, schedule)
        assert 8 * 6 <= len(first) <= 10 * 6  # two weeks of weekdays, less the closed day
        assert not [s for s in first if _local(s, "Europe/Berlin") and s["start"].startswith(closed_day)]
        versions = {s["id"]: s["meta"]["versionId"] for s in first}
        await duty.run(context)
        second = await _slots(built.resources, schedule)
        assert {s["id"]: s["meta"]["versionId"] for s in second} == versions

    _on_fresh_database(database, scenario)


def test_changing_hours_regenerates_free_slots_and_reports_booked_ones(database: EmbeddedDatabase) -> None:
    async def scenario(built: Database) -> None:
        store = built.resources
        schedule = await _schedule(store, "Europe/Berlin")
        now = datetime.now(UTC)
        await generate_slots(store, schedule, now, 14)
        before = await _slots(store, schedule)
        patient = await _create(store, {"resourceType": "Patient", "name": [{"family": "Booked"}]})
        slot = before[0]
        proposal = {
            "resourceType": "Appointment", "status": "proposed", "start": slot["start"], "end": slot["end"],
            "slot": [{"reference": f"Slot/{slot['id']}"}], "participant": [{"actor": schedule["actor"][0]}],
        }  # fmt: skip
        booked = await booking.book_new(store, TEST_POLICY, proposal, f"Patient/{patient['id']}")
        afternoons = {**schedule, "extension": [*schedule["extension"]]}
        afternoons["extension"][1] = hours("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "14:00:00", "16:00:00")
        changed = (await update_resource(store, TEST_POLICY, "Schedule", schedule["id"], afternoons)).record.resource()
        report = await generate_slots(store, changed, now, 14)
        assert report.outside == [f"Appointment/{booked['id']}"]
        after = await _slots(store, schedule)
        booked_at = _local(slot, "Europe/Berlin")[4:]  # 09:00, or later when the test runs on a weekday morning
        assert {_local(s, "Europe/Berlin")[4:] for s in after} == {"14:00", "14:30", "15:00", "15:30", booked_at}
        kept = (await read_resource(store, TEST_POLICY, "Slot", slot["id"])).resource()
        assert kept["status"] == "busy"
        assert (await read_resource(store, TEST_POLICY, "Appointment", booked["id"])).resource()["status"] == "booked"
        tasks = await find_all(store, "Task", [("focus", f"Appointment/{booked['id']}")])
        assert [t["code"]["coding"][0]["code"] for t in tasks] == [OUTSIDE_HOURS]
        await generate_slots(store, changed, now, 14)
        assert len(await find_all(store, "Task", [("focus", f"Appointment/{booked['id']}")])) == 1

    _on_fresh_database(database, scenario)


def test_expire_holds_duty_cancels_lapsed_holds_and_frees_their_slots(database: EmbeddedDatabase) -> None:
    async def scenario(built: Database) -> None:
        store = built.resources
        schedule = await _schedule(store, "UTC")
        await generate_slots(store, schedule, datetime.now(UTC), 14)
        slot = (await _slots(store, schedule))[0]
        proposal = {
            "resourceType": "Appointment", "status": "proposed", "start": slot["start"], "end": slot["end"],
            "slot": [{"reference": f"Slot/{slot['id']}"}], "participant": [{"actor": schedule["actor"][0]}],
        }  # fmt: skip
        held = await booking.hold(store, TEST_POLICY, proposal, None, 0)
        assert (await read_resource(store, TEST_POLICY, "Slot", slot["id"])).resource()["status"] == "busy-tentative"
        duty = next(d for d in SCHEDULING_DUTIES if d.name == "expire-holds")
        context = DutyContext(built, Settings(), "test-worker")
        for _round in range(2):
            await duty.run(context)
        expired = (await read_resource(store, TEST_POLICY, "Appointment", held["id"])).resource()
        assert expired["status"] == "cancelled" and expired["meta"]["versionId"] == "2"
        assert (await read_resource(store, TEST_POLICY, "Slot", slot["id"])).resource()["status"] == "free"

    _on_fresh_database(database, scenario)
