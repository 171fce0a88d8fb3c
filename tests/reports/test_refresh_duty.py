"""The refresh duty: it builds nothing for reports never run, and brings a materialized view up to date
with writes made since (an update and a deletion), run twice in a row."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow.parquet as pq

from fhir_server.config import Settings
from fhir_server.duties.duty import DutyContext
from fhir_server.engine import create_resource, delete_resource, update_resource
from fhir_server.reports.duties import refresh_report_views
from fhir_server.reports.materialize import materializer_for
from fhir_server.reports.shipped import shipped_reports
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.database import Database
from tests.conftest import TEST_POLICY

VIEW = shipped_reports()["patients-by-condition"].views["conditions"]


def _condition(code: str, status: str = "active") -> dict[str, object]:
    return {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"code": status}]},
        "code": {"coding": [{"code": code, "display": code}]},
        "subject": {"reference": "Patient/x"},
    }


async def _scenario(uri: str, folder: Path) -> None:
    settings = Settings(data_dir=folder, mongodb_uri=uri, database=f"reports_duty_{folder.name}")
    async with Database.open(settings) as database:
        context = DutyContext(database, settings, "test")
        store = database.resources
        first = (await create_resource(store, TEST_POLICY, "Condition", _condition("asthma"))).record
        second = (await create_resource(store, TEST_POLICY, "Condition", _condition("gout"))).record
        materializer = materializer_for(store, settings)
        path = materializer.path(VIEW)
        await refresh_report_views(context)
        assert not path.exists(), "nothing is built for a report never run"
        await materializer.refresh(VIEW)
        assert sorted(pq.read_table(path).column("code").to_pylist()) == ["asthma", "gout"]
        changed = {**first.resource(), "code": {"coding": [{"code": "copd", "display": "copd"}]}}
        await update_resource(store, TEST_POLICY, "Condition", first.id, changed)
        await delete_resource(store, TEST_POLICY, "Condition", second.id)
        for _ in range(2):
            await refresh_report_views(context)
            table = pq.read_table(path)
            assert table.column("code").to_pylist() == ["copd"]
            assert table.column("__version").to_pylist() == [2]


def test_the_duty_refreshes_views_in_use(database: EmbeddedDatabase, tmp_path: Path) -> None:
    asyncio.run(_scenario(database.uri, tmp_path))
