"""An export whose worker dies is resumed by another worker from the saved cursor: no line twice, none missing.

The first worker "dies" right after storing a chunk and before saving the cursor that covers it (the
worst moment); the second worker must delete that chunk and write its lines again, once.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import orjson

from fhir_server.auth.policy import AccessPolicy
from fhir_server.engine import create_resource
from fhir_server.engine.bulk_export import EXPORT, LEASE, SYSTEM, ExportRequest, run_export, start_export
from fhir_server.engine.identity import now
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.files import MongoFileStore
from fhir_server.storage.jobs import COMPLETED, MongoJobStore


class _Crash(Exception):
    pass


class _DyingFiles(MongoFileStore):
    """Stores chunks, then dies on the `fatal`-th one, after storing it."""

    def __init__(self, files: MongoFileStore, fatal: int) -> None:
        self.__dict__.update(files.__dict__)
        self.calls, self.fatal = 0, fatal

    async def put(self, job: str, file: str, seq: int, data: bytes) -> None:
        await super().put(job, file, seq, data)
        self.calls += 1
        if self.calls == self.fatal:
            raise _Crash


def test_dead_export_worker_is_resumed_without_duplicates(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        store = MongoResourceStore.connect(database.uri, f"export_{uuid.uuid4().hex[:8]}")
        jobs = MongoJobStore(store.client, store.database_name)
        files = MongoFileStore(store.client, store.database_name)
        try:
            await store.ensure_indexes()
            await jobs.ensure_indexes()
            await files.ensure_indexes()
            created = set()
            for i in range(250):
                record = await create_resource(
                    store, AccessPolicy.system("test"), "Basic", {"resourceType": "Basic", "code": {"text": f"b{i}"}}
                )
                created.add(record.record.id)
            request = ExportRequest(SYSTEM, ("Basic", "Patient"), None, (), None)
            job = await start_export(store, AccessPolicy.system("test"), jobs, request, "http://test/fhir/$export")
            first = await jobs.claim(EXPORT, "worker-a", now(), LEASE)
            assert first is not None and first.id == job.id
            try:  # pages of 40, files of 100 lines; dies after storing its 4th chunk: the first
                # of Basic-2.ndjson (lines 101-120), once Basic-1.ndjson was finished in 3 chunks
                await run_export(store, jobs, _DyingFiles(files, 4), first, "worker-a", max_lines=100, page=40)
                raise AssertionError("the worker should have died")
            except _Crash:
                pass
            saved = await jobs.get(job.id)
            assert saved is not None and saved.cursor["file"] == 2 and saved.cursor["seq"] == 0
            assert await files.exists(job.id, "Basic-2.ndjson")  # holds the chunk beyond the cursor too
            assert await jobs.claim(EXPORT, "worker-b", now(), LEASE) is None  # still leased to worker-a
            resumed = await jobs.claim(EXPORT, "worker-b", now() + 2 * LEASE, LEASE)  # the lease ran out
            assert resumed is not None and resumed.cursor == saved.cursor
            await run_export(store, jobs, files, resumed, "worker-b", max_lines=100, page=40)
            finished = await jobs.get(job.id)
            assert finished is not None and finished.status == COMPLETED
            outputs = finished.cursor["outputs"]
            assert [(o["file"], o["count"]) for o in outputs] == [
                ("Basic-1.ndjson", 100),
                ("Basic-2.ndjson", 100),
                ("Basic-3.ndjson", 50),
            ]
            ids: list[str] = []
            for output in outputs:
                data = b"".join([chunk async for chunk in files.read(job.id, output["file"])])
                lines = data.splitlines()
                assert len(lines) == output["count"]
                ids += [orjson.loads(line)["id"] for line in lines]
            assert len(ids) == len(set(ids)) == 250  # none twice
            assert set(ids) == created  # none missing
            assert ids == sorted(ids)  # in id order, across files
            assert not await jobs.progress(first, "worker-a", now(), timedelta(seconds=30))  # worker-a lost it
        finally:
            await store.client.drop_database(store.database_name)
            await store.close()

    asyncio.run(scenario())
