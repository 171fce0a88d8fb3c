"""The SQL of a report as DuckDB will run it, checked (kept apart from the runner: the write rule uses it too)."""

from __future__ import annotations

from ..errors import InvalidRequest
from ..i18n import _
from .model import Report
from .placeholders import duckdb_placeholders
from .sql_guard import check_query


def checked_sql(report: Report) -> tuple[str, frozenset[str]]:
    """The report's SQL for DuckDB (`:name` → `$name`) and the parameters it uses; InvalidRequest unless
    it is one read-only SELECT of the report's views using only parameters the report declares."""
    sql = duckdb_placeholders(report.sql)
    used = check_query(sql, list(report.views))
    unknown = sorted(used - {parameter.name for parameter in report.parameters})
    if unknown:
        raise InvalidRequest(_("The report query uses parameters the report does not declare: {names}.").format(
            names=", ".join(unknown)), expression="query")  # fmt: skip
    return sql, used
