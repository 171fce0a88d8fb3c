"""Duties (fhir_server/duties/): declared once, chosen per process, leased ones run in one process at a time."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from fhir_server.config import Settings
from fhir_server.duties import MLLP, SERVER, Duty, DutyContext, applicable, start_duties
from fhir_server.duties.registry import DUTIES
from fhir_server.engine.identity import now
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.database import Database
from fhir_server.storage.leases import new_worker
from fhir_server.tasks import stop_tasks


async def _until(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the duty did not get there")
        await asyncio.sleep(0.01)


def _on_fresh_database(database: EmbeddedDatabase, scenario: Callable[[Database], Awaitable[None]]) -> None:
    async def run() -> None:
        store = MongoResourceStore.connect(database.uri, f"duties_{uuid.uuid4().hex[:8]}")
        try:
            built = Database.build(store.client, Settings(database=store.database_name))
            await built.ensure_indexes()
            await scenario(built)
            await store.client.drop_database(store.database_name)
        finally:
            await store.close()

    asyncio.run(run())


class Rounds:
    """A duty handler that notes who ran each round and whether two rounds ever overlapped."""

    def __init__(self, fail_first: bool = False) -> None:
        self.by: list[str] = []
        self.running = 0
        self.overlapped = False
        self.fail_first = fail_first

    async def __call__(self, context: DutyContext) -> None:
        self.running += 1
        self.overlapped |= self.running > 1
        try:
            await asyncio.sleep(0.01)
            if self.fail_first and not self.by:
                self.by.append("failed")
                raise RuntimeError("a round fails")
            self.by.append(context.worker)
        finally:
            self.running -= 1


def test_a_leased_duty_runs_in_one_process_at_a_time_and_moves_when_its_holder_stops(
    database: EmbeddedDatabase,
) -> None:
    async def scenario(built: Database) -> None:
        rounds = Rounds()
        duty = Duty("tick", rounds, every=0.005, leased=True)
        first, second = (DutyContext(built, Settings(), new_worker()) for _ in range(2))
        first_tasks = start_duties([duty], first)
        await _until(lambda: len(rounds.by) >= 3)  # the first process holds it
        second_tasks = start_duties([duty], second)
        await _until(lambda: len(rounds.by) >= 15)
        assert set(rounds.by) == {first.worker}  # the holder keeps it while it lives
        await stop_tasks(first_tasks)  # it stops and releases the lease
        await _until(lambda: second.worker in rounds.by)
        assert await built.duties.holder("tick") == second.worker
        await stop_tasks(second_tasks)
        assert not rounds.overlapped

    _on_fresh_database(database, scenario)


def test_an_unleased_duty_runs_in_every_process_and_survives_a_failed_round(database: EmbeddedDatabase) -> None:
    async def scenario(built: Database) -> None:
        rounds = Rounds(fail_first=True)
        duty = Duty("everywhere", rounds, every=0.005)
        contexts = [DutyContext(built, Settings(), new_worker()) for _ in range(2)]
        tasks = [task for context in contexts for task in start_duties([duty], context)]
        try:
            await _until(lambda: {c.worker for c in contexts} <= set(rounds.by))
        finally:
            await stop_tasks(tasks)
        assert rounds.by[0] == "failed"  # and yet the rounds went on
        assert await built.duties.holder("everywhere") is None  # no lease taken

    _on_fresh_database(database, scenario)


def test_a_continuous_duty_runs_its_own_loop(database: EmbeddedDatabase) -> None:
    async def scenario(built: Database) -> None:
        started: list[str] = []

        async def loop(context: DutyContext) -> None:
            started.append(context.worker)
            await asyncio.Event().wait()

        context = DutyContext(built, Settings(), new_worker())
        tasks = start_duties([Duty("loop", loop)], context)
        await _until(lambda: started == [context.worker])
        await stop_tasks(tasks)
        assert all(task.cancelled() for task in tasks)

    _on_fresh_database(database, scenario)


def test_each_process_takes_the_duties_that_apply_to_it() -> None:
    def names(runs: set[str]) -> list[str]:
        return [duty.name for duty in applicable(DUTIES, runs, Settings())]

    server = ["search-parameters", "reindex", "export", "import", "audit-seal"]
    workflows = ["stock-alerts", "stock-expiry", "pharmacy-transmission", "generate-slots", "expire-holds"]
    views = ["refresh-report-views", "viewdefinition-export"]
    assert names({SERVER}) == [*server, *workflows, *views]
    assert names({SERVER, MLLP}) == [*server, "hl7-recovery", *workflows, *views]
    assert names({MLLP}) == ["hl7-recovery"]  # `fhir-server mllp`: no job workers there
    off = Duty("off", Rounds(), every=1, enabled=lambda settings: settings.hl7_outbound)
    assert applicable([off], {SERVER}, Settings()) == []
    assert applicable([off], {SERVER}, Settings(hl7_outbound=True)) == [off]


def test_only_a_duty_run_in_rounds_can_be_leased() -> None:
    with pytest.raises(ValueError, match="rounds"):
        Duty("loop", Rounds(), leased=True)


def test_a_duty_held_by_a_dead_process_of_this_machine_is_taken_at_once(database: EmbeddedDatabase) -> None:
    async def scenario(built: Database) -> None:
        machine, _pid, rest = new_worker().split("/")
        if machine == "-":
            pytest.skip("this system cannot tell whether a process exists")
        dead = f"{machine}/999999999/{rest}"  # no such process
        assert await built.duties.claim("tick", dead, now(), timedelta(hours=1))
        live = new_worker()
        assert await built.duties.claim("tick", live, now())
        assert not await built.duties.claim("tick", "elsewhere/1/x", now())  # a live holder keeps it
        assert await built.duties.holder("tick") == live

    _on_fresh_database(database, scenario)
