"""Reminder dispatch rate: appointments booked through the engine (the write rule plans their reminders), then
the `send-reminders` and `send-messages` rounds run back to back until every reminder is in the mailbox of a
local aiosmtpd server (STARTTLS and AUTH, as a real relay) and recorded as a Communication.

    python benchmarks/reminders.py [--appointments 500]

Prints the booking rate (with the reminders rule in each write), the dispatch rate (reminders/s from the first
round until the last Communication) and the time spent in each step. Target: ≥ 50 reminders/s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fhir_server.config import Settings  # noqa: E402
from fhir_server.engine.create import create_resource  # noqa: E402
from fhir_server.engine.identity import now  # noqa: E402
from fhir_server.messaging.duties import backoff, configured_channels  # noqa: E402
from fhir_server.messaging.sender import send_due  # noqa: E402
from fhir_server.reminders.dispatch import REMINDERS, remind  # noqa: E402
from fhir_server.storage import EmbeddedDatabase  # noqa: E402
from fhir_server.storage.database import Database  # noqa: E402
from tests.outbound import SmtpServer  # noqa: E402


def instant(moment: object) -> str:
    return str(moment.isoformat(timespec="seconds")).replace("+00:00", "Z")  # type: ignore[attr-defined]


async def book(database: Database, count: int) -> float:
    """`count` appointments about an hour ahead (so each has one reminder due: the 2 h one), each with its own
    patient: the seconds it took."""
    store = database.resources
    doctor = await create_resource(store, REMINDERS, "Practitioner", {"resourceType": "Practitioner",
                                   "name": [{"family": "Weber"}]})  # fmt: skip
    place = await create_resource(store, REMINDERS, "Location", {"resourceType": "Location", "name": "Praxis"})
    patients = []
    for n in range(count):
        body = {"resourceType": "Patient", "name": [{"family": f"Bench{n}"}],
                "telecom": [{"system": "email", "value": f"p{n}@bench.example"}]}  # fmt: skip
        patients.append(await create_resource(store, REMINDERS, "Patient", body))
    began = time.perf_counter()
    start = now() + timedelta(hours=1)
    for n, patient in enumerate(patients):
        at = start + timedelta(seconds=n)
        body = {"resourceType": "Appointment", "status": "booked", "start": instant(at),
                "end": instant(at + timedelta(minutes=10)),
                "participant": [{"actor": {"reference": patient.record.reference}, "status": "accepted"},
                                {"actor": {"reference": doctor.record.reference}, "status": "accepted"},
                                {"actor": {"reference": place.record.reference}, "status": "accepted"}]}  # fmt: skip
        await create_resource(store, REMINDERS, "Appointment", body)
    return time.perf_counter() - began


async def dispatch(database: Database, settings: Settings, smtp: SmtpServer, count: int) -> dict[str, float]:
    """The two duties' rounds back to back, side by side as in a server, until every reminder is recorded:
    seconds in all, and in each duty's rounds."""
    spent = {"send-reminders rounds": 0.0, "send-messages rounds": 0.0}
    channels = configured_channels(settings)
    reminders = database.client[settings.database]["reminders"]
    done = asyncio.Event()

    async def rounds(name: str, one: Callable[[], Awaitable[object]]) -> None:
        while not done.is_set():
            tick = time.perf_counter()
            await one()
            spent[name] += time.perf_counter() - tick
            if await reminders.count_documents({"status": "sent"}) >= count:
                done.set()
            await asyncio.sleep(0)

    began = time.perf_counter()
    await asyncio.gather(
        rounds("send-reminders rounds", lambda: remind(database, settings, limit=1000)),
        rounds("send-messages rounds", lambda: send_due(database.message_outbox, channels, "bench", backoff(settings))),
    )
    spent["total"] = time.perf_counter() - began
    assert len(smtp.mailbox.messages) == count, len(smtp.mailbox.messages)
    return spent


async def main(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="reminders-bench-"))
    smtp = SmtpServer(folder)
    smtp.start()
    try:
        with EmbeddedDatabase(folder / "db") as db:
            env = {k.removeprefix("FHIR_").lower(): v for k, v in smtp.env().items()}
            settings = Settings(mongodb_uri=db.uri, database="bench", smtp_host=env["smtp_host"],
                                smtp_port=int(env["smtp_port"]), smtp_user=env["smtp_user"],
                                smtp_password=env["smtp_password"], smtp_from=env["smtp_from"],
                                smtp_cafile=Path(env["smtp_cafile"]))  # fmt: skip
            async with Database.open(settings) as database:
                booking = await book(database, count)
                spent = await dispatch(database, settings, smtp, count)
    finally:
        smtp.stop()
    print(f"appointments booked: {count} in {booking:.2f} s = {count / booking:.0f}/s (reminders rule in each write)")
    print(f"reminders dispatched: {count} in {spent['total']:.2f} s = {count / spent['total']:.0f}/s (target ≥ 50/s)")
    for step, seconds in spent.items():
        if step != "total":
            print(f"  {step}: {seconds:.2f} s busy")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=500)
    asyncio.run(main(parser.parse_args().appointments))
