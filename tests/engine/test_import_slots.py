"""An import runs its first unit alone, then up to `jobs` at once: on a fresh database the first transaction
creates the collections and marks the indexes the others write too, and several first transactions at
once each wrote those, all but one rolled back and ran again."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from pathlib import Path

from fhir_server.auth.policy import AccessPolicy
from fhir_server.cli_database import connected_database
from fhir_server.config import Settings
from fhir_server.engine.importing import Importer
from fhir_server.engine.observers import add_write_observer, remove_write_observer
from fhir_server.storage import EmbeddedDatabase, LinkedDocument, PendingWrite, ResourceStore


class Overlap:
    """A write observer that holds each commit a moment and notes how many were under way at once."""

    def __init__(self) -> None:
        self.running = 0
        self.seen: list[int] = []

    async def __call__(self, _store: ResourceStore, writes: Sequence[PendingWrite]) -> Sequence[LinkedDocument]:
        self.running += 1
        self.seen.append(self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        return ()


def _bundles(folder: Path, count: int) -> None:
    for n in range(count):
        entry = {
            "resource": {"resourceType": "Patient", "name": [{"family": f"Slot{n}"}]},
            "request": {"method": "POST", "url": "Patient"},
        }
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
        (folder / f"bundle{n}.json").write_text(json.dumps(bundle))


def test_the_first_unit_runs_alone_and_the_rest_together(database: EmbeddedDatabase, tmp_path: Path) -> None:
    _bundles(tmp_path, 6)
    overlap = Overlap()

    async def main() -> None:
        settings = Settings(mongodb_uri=database.uri, database=f"slots_{uuid.uuid4().hex[:8]}", data_dir=tmp_path)
        async with connected_database(settings) as built:
            importer = Importer(built.resources, built.imports, AccessPolicy.system("cli"), jobs=3)
            add_write_observer(overlap)
            try:
                report = await importer.run([tmp_path])
            finally:
                remove_write_observer(overlap)
            assert report.resources == 6 and not report.failures
            await built.resources.client.drop_database(settings.database)

    asyncio.run(main())
    assert overlap.seen[0] == 1 and overlap.seen[1] == 1, "the first unit committed before any other began"
    assert max(overlap.seen) > 1, "the others ran at once"
