"""The report SQL guard (DuckDB's parser) and the locked DuckDB connection, each refusal on its own."""

from __future__ import annotations

import asyncio

import pyarrow as pa
import pytest

from fhir_server.errors import InvalidRequest, TooCostly
from fhir_server.reports.placeholders import duckdb_placeholders
from fhir_server.reports.query import run_query
from fhir_server.reports.sql_guard import check_query

TABLES = ["visits"]

REFUSED = {
    "two statements": ("SELECT * FROM visits; SELECT 1", "exactly one SELECT"),
    "create": ("CREATE TABLE x AS SELECT * FROM visits", "CREATE"),
    "drop": ("DROP TABLE visits", "DROP"),
    "insert": ("INSERT INTO visits VALUES (1)", "INSERT"),
    "update": ("UPDATE visits SET day = 1", "UPDATE"),
    "delete": ("DELETE FROM visits", "DELETE"),
    "copy": ("COPY visits TO '/tmp/out.csv'", "COPY"),
    "attach": ("ATTACH '/tmp/other.db'", "ATTACH"),
    "install": ("INSTALL httpfs", "LOAD"),
    "load": ("LOAD httpfs", "LOAD"),
    "pragma": ("PRAGMA database_list", "PRAGMA"),
    "set": ("SET threads = 1", "SET"),
    "explain": ("EXPLAIN SELECT * FROM visits", "EXPLAIN"),
    "read_csv": ("SELECT * FROM read_csv('/etc/passwd')", "read_csv()"),
    "read_parquet in a subquery": (
        "SELECT * FROM visits WHERE day IN (SELECT * FROM read_parquet('x'))",
        "read_parquet",
    ),
    "read_json": ("SELECT * FROM read_json('x.json')", "read_json()"),
    "glob": ("SELECT * FROM glob('/*')", "glob()"),
    "read_text": ("SELECT * FROM read_text('/etc/passwd')", "read_text()"),
    "settings": ("SELECT * FROM duckdb_settings()", "duckdb_settings()"),
    "a file as a table": ("SELECT * FROM '/etc/passwd'", "'/etc/passwd'"),
    "another table": ("SELECT * FROM secrets", "'secrets'"),
    "a qualified table": ("SELECT * FROM main.visits", "'visits'"),
    "not SQL": ("SELEKT 1", "not valid SQL"),
    "empty": ("   ", "empty"),
}


@pytest.mark.parametrize("sql,named", REFUSED.values(), ids=REFUSED.keys())
def test_refused(sql: str, named: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_query(sql, TABLES)
    assert refused.value.status == 400
    assert named in refused.value.issues[0].diagnostics
    assert refused.value.issues[0].expression == "query"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM visits",
        "WITH v AS (SELECT * FROM visits) SELECT count(*) FROM v",
        "SELECT day FROM visits UNION ALL SELECT day FROM visits",
        "SELECT * FROM visits, range(3)",
        "SELECT (SELECT count(*) FROM visits) AS n",
    ],
)
def test_read_only_selects_pass(sql: str) -> None:
    assert check_query(sql, TABLES) == frozenset()


def test_parameters_are_named_by_the_parser() -> None:
    sql = duckdb_placeholders("SELECT ':not' AS s, x::VARCHAR FROM visits WHERE day >= :start AND day <= :end -- :no")
    assert sql == "SELECT ':not' AS s, x::VARCHAR FROM visits WHERE day >= $start AND day <= $end -- :no"
    assert check_query(sql, TABLES) == {"start", "end"}


def test_the_connection_cannot_read_files_even_unchecked() -> None:
    """run_query runs with external access off: a query the guard would refuse fails there too."""
    table = pa.table({"day": [1, 2]})
    for sql in ("SELECT * FROM read_text('/etc/passwd')", "SELECT * FROM '/etc/passwd'", "SET threads = 4"):
        with pytest.raises(InvalidRequest) as refused:
            asyncio.run(run_query(sql, {"visits": table}, {}))
        assert "report query failed" in refused.value.issues[0].diagnostics


def test_a_runaway_query_is_stopped() -> None:
    table = pa.table({"day": [1]})
    with pytest.raises(TooCostly):
        asyncio.run(run_query("SELECT count(*) FROM range(1000000000000)", {"visits": table}, {}, seconds=0.5))


def test_too_many_rows_are_refused() -> None:
    table = pa.table({"day": [1]})
    with pytest.raises(TooCostly) as refused:
        asyncio.run(run_query("SELECT * FROM range(100001)", {"visits": table}, {}))
    assert "more than 100000 rows" in refused.value.issues[0].diagnostics
