"""The shipped reports are well formed: valid views, SQL that passes the guard using only declared
parameters, titles in en/es/de, and views that turn real (Synthea) resources into rows without error."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_server.fhir_json import dumps
from fhir_server.reports.checks import checked_sql
from fhir_server.reports.materialize import KEY, VERSION, _rows_of, schema_of
from fhir_server.reports.query import run_query
from fhir_server.reports.shipped import shipped_reports
from fhir_server.storage import StoredResource
from fhir_server.views import validate_view, view_rows
from fhir_server.views.definition import compile_view

SYNTHEA = Path(__file__).parent.parent / "fixtures" / "synthea-sample.json.gz"
REPORTS = shipped_reports()


def _synthea() -> list[dict[str, Any]]:
    """The sample's resources, their `urn:uuid:` references made `Type/id` as a transaction stores them."""
    with gzip.open(SYNTHEA) as sample:
        text = sample.read().decode()
    entries = [entry for bundle in json.loads(text) for entry in bundle.get("entry", [])]
    for entry in entries:
        resource = entry["resource"]
        text = text.replace(f'"{entry["fullUrl"]}"', f'"{resource["resourceType"]}/{resource["id"]}"')
    return [entry["resource"] for bundle in json.loads(text) for entry in bundle.get("entry", [])]


def test_the_nine_reports_are_shipped() -> None:
    assert sorted(REPORTS) == [
        "abnormal-lab-results", "appointments-per-provider", "ar-aging", "denied-claims", "encounters-by-month",
        "immunization-status", "patients-by-condition", "prescriptions-by-drug", "stock-expiring",
    ]  # fmt: skip


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_a_shipped_report_is_well_formed(name: str) -> None:
    report = REPORTS[name]
    for view in report.views.values():
        validate_view(dict(view))
    _sql, used = checked_sql(report)
    assert used == {p.name for p in report.parameters}, "every declared parameter is used"
    assert set(report.titles) == {"en", "es", "de"}
    assert report.chart is not None


def test_shipped_views_turn_real_resources_into_rows() -> None:
    resources = _synthea()
    counts = {}
    for report in REPORTS.values():
        for table, view in report.views.items():
            counts[table] = sum(1 for _row in view_rows(dict(view), resources))
    assert counts["encounters"] == 51 and counts["results"] == 378 and counts["immunizations"] == 23
    assert counts["conditions"] == 25 and counts["prescriptions"] == 15 and counts["practitioners"] == 4


def test_shipped_queries_answer_over_real_rows() -> None:
    """Each shipped query runs in the locked DuckDB over the Synthea sample's rows (types and casts hold)."""
    records = [
        StoredResource(r["resourceType"], r.get("id", str(n)), 1, datetime.now(UTC), False, dumps(r))
        for n, r in enumerate(_synthea())
    ]
    values = {"start": date(1900, 1, 1), "end": date(2100, 1, 1), "as_of": date(2026, 12, 6), "until": date(2100, 1, 1)}
    answers = {}
    for name, report in REPORTS.items():
        sql, used = checked_sql(report)
        tables = {}
        for table, view in report.views.items():
            compiled = compile_view(dict(view))
            tables[table] = _rows_of(compiled, schema_of(compiled), records).drop_columns([KEY, VERSION])
        answers[name] = asyncio.run(run_query(sql, tables, {n: values[n] for n in used}))
    assert sum(row[2] for row in answers["encounters-by-month"].rows) == 51
    assert answers["immunization-status"].columns[:3] == ["vaccine", "completed", "not_done"]
    assert sum(row[1] for row in answers["immunization-status"].rows) == 23
    assert answers["patients-by-condition"].rows, "the sample has active conditions"
