"""Run a checked report query in DuckDB over the views' rows, in a connection that cannot touch files.

Each run gets a fresh in-memory connection: the views' Arrow tables are registered first (no file is
opened by DuckDB), then `enable_external_access=false` and `lock_configuration=true` are set, so the
query cannot read or write a file, attach a database, load an extension or change a setting, even
if the parser check (sql_guard.py) had missed something. A query running longer than its time limit
is interrupted and refused.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from ..errors import InvalidRequest, TooCostly
from ..i18n import _

MEMORY_LIMIT = "512MB"
MAX_ROWS = 100_000
"""A report answers at most this many rows (a report is a summary; the views' rows are `$viewdefinition-run`'s)."""


@dataclass(frozen=True)
class QueryResult:
    """The answer of a report query: column names and rows (tuples of Python values)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


def _locked_connection(tables: Mapping[str, pa.Table]) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    connection.execute("SET threads = 2")
    connection.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    for name, table in tables.items():
        connection.register(name, table)
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def _run(sql: str, tables: Mapping[str, pa.Table], parameters: Mapping[str, Any], seconds: float) -> QueryResult:
    connection = _locked_connection(tables)
    timer = threading.Timer(seconds, connection.interrupt)
    timer.start()
    try:
        cursor = connection.execute(sql, dict(parameters) or None)
        columns = [description[0] for description in cursor.description or []]
        rows = cursor.fetchmany(MAX_ROWS + 1)
        if len(rows) > MAX_ROWS:
            raise TooCostly(_("The report query gives more than {count} rows; group or filter them.").format(
                count=MAX_ROWS))  # fmt: skip
        return QueryResult(columns, rows)
    except duckdb.InterruptException as exc:
        raise TooCostly(_("The report query took longer than {seconds} seconds and was stopped.").format(
            seconds=seconds)) from exc  # fmt: skip
    except duckdb.Error as exc:
        raise InvalidRequest(_("The report query failed: {error}").format(error=str(exc)[:300]),
                             expression="query") from exc  # fmt: skip
    finally:
        timer.cancel()
        connection.close()


async def run_query(
    sql: str, tables: Mapping[str, pa.Table], parameters: Mapping[str, Any], *, seconds: float = 30.0
) -> QueryResult:
    """Run `sql` (already checked by sql_guard.check_query) with named `parameters` ($name) in a thread."""
    return await asyncio.to_thread(_run, sql, tables, parameters, seconds)
