"""Jobs with leases: a job whose worker died is resumed from its cursor by the next worker."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from fhir_server.auth.policy import AccessPolicy
from fhir_server.engine import create_resource
from fhir_server.engine.identity import now
from fhir_server.engine.reindex import run_reindex, start_reindex
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.jobs import COMPLETED, MongoJobStore


def test_abandoned_reindex_is_resumed_not_restarted(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        store = MongoResourceStore.connect(database.uri, f"jobs_{uuid.uuid4().hex[:8]}")
        jobs = MongoJobStore(store.client, store.database_name)
        try:
            await store.ensure_indexes()
            await jobs.ensure_indexes()
            for i in range(250):
                await create_resource(
                    store, AccessPolicy.system("test"), "Basic", {"resourceType": "Basic", "code": {"text": f"b{i}"}}
                )
            job = await start_reindex(store, jobs, "Basic")
            first = await jobs.claim("reindex", "worker-a", now(), timedelta(seconds=30))
            assert first is not None and first.id == job.id
            assert await jobs.claim("reindex", "worker-b", now(), timedelta(seconds=30)) is None  # leased
            batch = await store.scan("Basic", None, 200)
            first.cursor, first.done = {"type": 0, "after": batch[-1].id}, 200
            assert await jobs.progress(first, "worker-a", now(), timedelta(seconds=-1))  # then worker-a dies
            resumed = await jobs.claim("reindex", "worker-b", now(), timedelta(seconds=30))
            assert resumed is not None and resumed.cursor == first.cursor
            await run_reindex(store, jobs, resumed, "worker-b")
            finished = await jobs.get(job.id)
            assert finished is not None and finished.status == COMPLETED
            assert finished.done == 250  # 200 by worker-a, the last 50 by worker-b: none twice
            assert not await jobs.progress(first, "worker-a", now(), timedelta(seconds=30))  # the old worker lost it
        finally:
            await store.close()

    asyncio.run(scenario())
