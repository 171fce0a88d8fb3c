"""Group commit (storage/commit_group.py): writes that queue behind a commit are merged, and every caller
still gets exactly the outcome its write would have had alone.

The scheduling tests drive `CommitGroup` with a commit function that records what it is given and can
be held open; the last tests run concurrent writes through `MongoResourceStore` on the embedded database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from fhir_server.errors import VersionConflict
from fhir_server.i18n import _, start_request
from fhir_server.storage import EmbeddedDatabase, LinkedDocument, MongoResourceStore, PendingWrite, StoredResource
from fhir_server.storage.commit_group import MAX_MEMBER_WRITES, CommitGroup, WriteCall
from fhir_server.storage.store import ConditionLock
from tests.storage.test_mongo_store import run_with_store


def _write(resource_id: str, version: int = 1, body: bytes = b'{"resourceType":"Patient"}') -> PendingWrite:
    record = StoredResource("Patient", resource_id, version, datetime.now(UTC), False, body)
    return PendingWrite(record, None if version == 1 else version - 1, {})


def _call(*resource_ids: str, locks: Sequence[str] = ()) -> WriteCall:
    return WriteCall([_write(r) for r in resource_ids], [ConditionLock(key, None) for key in locks])


class Recorder:
    """A commit function: records the ids of each commit; the first commit waits for `release` when held."""

    def __init__(self, *, hold_first: bool = True, failing: frozenset[str] = frozenset()) -> None:
        self.commits: list[list[str]] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.hold_first = hold_first
        self.failing = failing

    async def __call__(self, call: WriteCall) -> None:
        ids = [w.record.id for w in call.writes]
        self.commits.append(ids)
        if self.hold_first and len(self.commits) == 1:
            self.started.set()
            await self.release.wait()
        refused = self.failing & set(ids)
        if refused:
            raise VersionConflict(f"refused {sorted(refused)}")


class Held:
    """A group whose first commit ("a") is held open, with calls queued behind it."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.group = CommitGroup(recorder)

    async def queue(self, *calls: WriteCall) -> list[asyncio.Task[None]]:
        """Start the held commit of "a", then the `calls`; return their tasks (the first is "a")."""
        first = asyncio.create_task(self.group.write(_call("a")))
        await self.recorder.started.wait()
        tasks = [first, *(asyncio.create_task(self.group.write(call)) for call in calls)]
        for _turn in range(5):
            await asyncio.sleep(0)  # every call reaches the group (and waits there)
        return tasks

    async def release(self, tasks: list[asyncio.Task[None]]) -> None:
        """Let the held commit end, and wait for every task (their errors are left in the tasks)."""
        self.recorder.release.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_a_lone_write_commits_at_once_on_its_own() -> None:
    async def main() -> None:
        recorder = Recorder(hold_first=False)
        await CommitGroup(recorder).write(_call("a"))
        assert recorder.commits == [["a"]]

    asyncio.run(main())


def test_writes_queued_behind_a_commit_are_committed_as_one() -> None:
    async def main() -> None:
        held = Held(Recorder())
        tasks = await held.queue(_call("b"), _call("c"), _call("d"))
        assert not any(task.done() for task in tasks)  # they wait for the commit under way
        await held.release(tasks)
        assert [task.result() for task in tasks] == [None] * 4
        assert held.recorder.commits == [["a"], ["b", "c", "d"]]

    asyncio.run(main())


def test_writes_to_one_resource_or_one_condition_are_never_merged() -> None:
    async def main() -> None:
        held = Held(Recorder())
        calls = (_call("b"), _call("b"), _call("c", locks=["k"]), _call("d", locks=["k"]), _call("e"))
        await held.release(await held.queue(*calls))
        assert held.recorder.commits == [["a"], ["b", "c", "e"], ["b", "d"]]

    asyncio.run(main())


def test_a_failed_group_commits_each_write_alone_and_only_the_bad_one_fails() -> None:
    async def main() -> None:
        held = Held(Recorder(failing=frozenset({"bad"})))
        tasks = await held.queue(_call("b"), _call("bad"), _call("c"))
        await held.release(tasks)
        first, b, bad, c = tasks
        assert first.result() is None and b.result() is None and c.result() is None
        assert isinstance(bad.exception(), VersionConflict)
        assert held.recorder.commits[:2] == [["a"], ["b", "bad", "c"]]
        assert sorted(held.recorder.commits[2:]) == [["b"], ["bad"], ["c"]]

    asyncio.run(main())


def test_a_write_cancelled_while_it_waits_is_left_out() -> None:
    async def main() -> None:
        held = Held(Recorder())
        tasks = await held.queue(_call("gone"), _call("kept"))
        tasks[1].cancel()
        await held.release(tasks)
        assert tasks[1].cancelled() and tasks[2].result() is None
        assert held.recorder.commits == [["a"], ["kept"]]
        await held.group.write(_call("after"))  # the group is idle again: the next write commits at once
        assert held.recorder.commits[-1] == ["after"]

    asyncio.run(main())


def test_a_large_write_commits_alone_even_while_another_commits() -> None:
    async def main() -> None:
        held = Held(Recorder())
        first = (await held.queue())[0]
        bundle = [f"e{n}" for n in range(MAX_MEMBER_WRITES + 1)]
        await held.group.write(_call(*bundle))  # does not wait for the commit under way
        await held.release([first])
        assert held.recorder.commits == [["a"], bundle]

    asyncio.run(main())


def test_concurrent_writes_on_the_database_each_get_their_own_outcome(database: EmbeddedDatabase) -> None:
    """Fifty creates at once, two of them of one id: every other lands with its linked document, one of
    the pair lands and the other gets the conflict it would get alone, with its own language's text."""

    async def scenario(store: MongoResourceStore, name: str) -> None:
        async def create(resource_id: str, language: str) -> None:
            start_request(language)
            linked = [LinkedDocument("linked_probe", {"_id": f"{resource_id}-{language}"})]
            await store.write_all([_write(resource_id)], linked=linked)

        ids = [f"p{n}" for n in range(48)]
        outcomes = await asyncio.gather(
            *(create(resource_id, "en") for resource_id in ids),
            create("twin", "en"),
            create("twin", "de"),
            return_exceptions=True,
        )
        assert outcomes[:48] == [None] * 48
        conflicts = [
            (language, outcome) for language, outcome in zip(("en", "de"), outcomes[48:], strict=True) if outcome
        ]
        assert len(conflicts) == 1 and isinstance(conflicts[0][1], VersionConflict)
        language, conflict = conflicts[0]
        start_request(language)
        assert str(conflict) == _("{reference} was changed by another request.").format(reference="Patient/twin")
        assert len(await store.get_many([f"Patient/{r}" for r in [*ids, "twin"]])) == 49
        linked = store.client[name]["linked_probe"]
        assert await linked.count_documents({}) == 49

    run_with_store(database, scenario)


def test_a_failing_member_rolls_back_its_group_but_not_the_others(database: EmbeddedDatabase) -> None:
    """A write whose linked document collides fails alone; the writes merged with it are stored."""

    async def scenario(store: MongoResourceStore, name: str) -> None:
        await store.client[name]["linked_probe"].insert_one({"_id": "taken"})

        async def create(resource_id: str, linked_id: str) -> None:
            await store.write_all([_write(resource_id)], linked=[LinkedDocument("linked_probe", {"_id": linked_id})])

        outcomes = await asyncio.gather(
            *(create(f"q{n}", f"free{n}") for n in range(10)), create("clash", "taken"), return_exceptions=True
        )
        assert outcomes[:10] == [None] * 10
        assert isinstance(outcomes[10], VersionConflict)
        assert await store.get("Patient", "clash") is None
        assert len(await store.get_many([f"Patient/q{n}" for n in range(10)])) == 10

    run_with_store(database, scenario)


def _combined(documents: list[dict[str, object]]) -> list[dict[str, object]]:
    """A `LinkedDocument.combine`: the documents as one, naming them all."""
    return [{"_id": "+".join(str(d["_id"]) for d in documents), "of": [d["_id"] for d in documents]}]


def test_linked_documents_of_a_group_are_combined_and_a_lone_writes_are_not(database: EmbeddedDatabase) -> None:
    """Writes queued behind a commit go in together: their linked documents with the same `combine` become
    what it makes of them; a write committed alone keeps its own, as do documents without `combine`."""

    async def scenario(store: MongoResourceStore, name: str) -> None:
        async def create(resource_id: str) -> None:
            linked = [
                LinkedDocument("combined_probe", {"_id": resource_id}, combine=_combined),
                LinkedDocument("plain_probe", {"_id": resource_id}),
            ]
            await store.write_all([_write(resource_id)], linked=linked)

        ids = [f"c{n}" for n in range(12)]
        await asyncio.gather(*(create(resource_id) for resource_id in ids))
        combined = await store.client[name]["combined_probe"].find({}).to_list()
        assert sorted(i for doc in combined for i in doc.get("of", [doc["_id"]])) == sorted(ids)
        assert len(combined) < len(ids), "the writes queued behind the first commit were combined"
        assert await store.client[name]["plain_probe"].count_documents({}) == len(ids)
        await create("lone")
        assert await store.client[name]["combined_probe"].find_one({"_id": "lone"}) == {"_id": "lone"}

    run_with_store(database, scenario)
