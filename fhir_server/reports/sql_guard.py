"""Refuse every report query that is not one read-only SELECT over the report's own tables.

The query is checked with DuckDB's own parser, not with patterns: `extract_statements` says how many
statements there are and of which kind, `json_serialize_sql` gives the syntax tree (it serializes
SELECTs only), and the tree is walked for the tables and table functions it reads. The query then
runs in a connection that cannot touch files at all (query.py), so a gap here is still closed there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb

from ..errors import InvalidRequest
from ..i18n import _

ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
"""Table functions that only compute (a series of numbers or dates, a list's elements), never read."""


def _refuse(text: str) -> InvalidRequest:
    return InvalidRequest(text, expression="query")


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every object of a serialized syntax tree, depth first."""
    if isinstance(tree, dict):
        yield tree
        for value in tree.values():
            yield from _nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _nodes(value)


def _cte_names(tree: Any) -> set[str]:
    names: set[str] = set()
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            names.update(str(entry.get("key", "")).lower() for entry in cte_map.get("map", []))
    return names


def _statement(sql: str) -> None:
    """Exactly one statement, a SELECT (WITH … SELECT, UNION … included)."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise _refuse(_("The query is not valid SQL: {error}").format(error=str(exc)[:300])) from exc
    if len(statements) != 1:
        raise _refuse(_("A report query must be exactly one SELECT statement; this one has {count}.").format(
            count=len(statements)))  # fmt: skip
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise _refuse(_("A report query may only read (SELECT); {kind} is not allowed.").format(
            kind=kind.name))  # fmt: skip


def _tree(sql: str) -> dict[str, Any]:
    with duckdb.connect(":memory:") as connection:
        row = connection.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        message = str(tree.get("error_message", ""))[:300]
        raise _refuse(_("The query is not valid SQL: {error}").format(error=message))
    return tree


def check_query(sql: str, tables: Sequence[str]) -> frozenset[str]:
    """The names of the query's `$name` parameters; InvalidRequest (400) unless `sql` is one SELECT
    reading only `tables` (and its own CTEs).

    Refused: several statements, anything but SELECT (DDL, INSERT/UPDATE/DELETE, COPY, ATTACH,
    INSTALL/LOAD, PRAGMA, SET, EXPLAIN ...), table functions other than the pure ones of
    ALLOWED_TABLE_FUNCTIONS (read_csv, read_parquet, read_json, glob, duckdb_settings ...), and tables
    other than the report's views (a file name in FROM is a "table" DuckDB would read from disk).
    """
    if not sql.strip():
        raise _refuse(_("The report query is empty."))
    _statement(sql)
    tree = _tree(sql)
    known = {table.lower() for table in tables} | _cte_names(tree)
    for node in _nodes(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise _refuse(_("The table function {name}() is not allowed in a report query.").format(name=name))
        elif kind == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            if node.get("schema_name") or node.get("catalog_name") or name.lower() not in known:
                raise _refuse(_("A report query may only read its views ({tables}); '{name}' is not one of them.")
                              .format(tables=", ".join(tables), name=name[:100]))  # fmt: skip
    statements = tree.get("statements", [])
    return frozenset(str(entry.get("key")) for s in statements for entry in s.get("named_param_map", []))
