"""Run a report: the caller's access, its parameters, fresh view rows, the checked query in DuckDB."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ..auth.policy import AccessPolicy
from ..errors import InvalidRequest
from ..i18n import _
from .access import require_run
from .checks import checked_sql
from .materialize import Materializer
from .model import Report
from .query import QueryResult, run_query


def bind_parameters(report: Report, given: Sequence[tuple[str, str]]) -> dict[str, date | str | int | None]:
    """The report's parameter values from (name, text) pairs: each known, typed, given at most once."""
    declared = {parameter.name: parameter for parameter in report.parameters}
    values: dict[str, date | str | int | None] = {name: None for name in declared}
    seen: set[str] = set()
    for name, raw in given:
        parameter = declared.get(name)
        if parameter is None:
            text = _("The report {report} has no parameter '{name}'; it takes: {names}.")
            names = ", ".join(declared) or "-"
            raise InvalidRequest(text.format(report=report.name, name=name[:64], names=names), expression=name[:64])
        if name in seen:
            raise InvalidRequest(_("Parameter '{name}' is given more than once.").format(name=name), expression=name)
        seen.add(name)
        values[name] = parameter.convert(raw)
    for parameter in report.parameters:
        if parameter.required and values[parameter.name] is None:
            raise InvalidRequest(_("The report {report} needs the parameter '{name}'.").format(
                report=report.name, name=parameter.name), expression=parameter.name)  # fmt: skip
    return values


async def run_report(
    report: Report, policy: AccessPolicy, materializer: Materializer, parameters: Mapping[str, Any]
) -> QueryResult:
    """The report's rows; Forbidden before anything is read when the caller may not run it."""
    require_run(policy, report)
    sql, used = checked_sql(report)
    tables = {table: await materializer.rows(view) for table, view in report.views.items()}
    return await run_query(sql, tables, {name: parameters.get(name) for name in used})
