"""Duties: background work declared once and run by every process it applies to.

A duty is a `Duty(name, run, every=..., leased=..., needs=..., enabled=...)`: `run(context)` gets a
`DutyContext` (the process's `Database`, its settings and its worker id). With `every=None` the
handler runs continuously (a loop of its own, like a job worker); with `every=N` the runner calls it
once every N seconds, and with `leased=True` only in the one process holding the duty's lease
(`storage/duty_leases.py`, through `storage/leases.py`; renewed while a round runs, taken over
when its holder dies). `needs` says what a process must run for the duty to apply there
(`SERVER`: the API server; `MLLP`: an HL7 v2 listener). The server's lifespan (app.py) and
`fhir-server mllp` both run `registry.DUTIES` with `runner.applicable` and `runner.start_duties`
and stop them with `fhir_server.tasks.stop_tasks`.

Declaring a new duty, e.g. the scheduling workflow's slot generation: a handler doing one round,

    async def generate_slots(context: DutyContext) -> None:
        await extend_schedules(context.database.resources, horizon=timedelta(days=90))

    SCHEDULING_DUTIES = (
        Duty("generate-slots", generate_slots, every=3600, leased=True),
        Duty("expire-holds", expire_holds, every=30, leased=True),
    )

in the workflow's own `duties.py`, and its tuple added to `registry.DUTIES`. A round must be safe to
run again (a process may die half way, and the next holder repeats it).
"""

from __future__ import annotations

from .duty import MLLP, SERVER, Duty, DutyContext
from .runner import applicable, start_duties

__all__ = ["MLLP", "SERVER", "Duty", "DutyContext", "applicable", "start_duties"]
