"""`$report` (run one report) and `$reports` (the reports the caller may run), at system level.

    GET [base]/$report?report=encounters-by-month&start=2026-01-01&end=2026-06-30
    GET [base]/$report?report=ar-aging&as_of=2026-12-01&_format=csv
    POST [base]/$report  (a Parameters resource with the same parameters)

`_format` json (default: an array of row objects) or csv. The report's own parameters (period
start/end ...) are given by name. A role the report does not list, or a token that does not reach
every resource its views read, gets 403 before anything is read.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from ..errors import InvalidRequest
from ..i18n import _, current_language
from ..rest.context import settings_of, store_of
from ..rest.operations.declaration import SYSTEM, Operation, OperationCall, Parameter
from ..rest.operations.parameters import operation_query
from ..rest.responses import FhirResponse
from .access import may_run
from .catalog import all_reports, find_report
from .materialize import Materializer, materializer_for
from .model import Report
from .output import report_response
from .runner import bind_parameters, run_report

_OWN = ("report", "_format", "_pretty")


def materializer_of(request: Request) -> Materializer:
    """This process's materialized views of the app's database."""
    return materializer_for(store_of(request), settings_of(request))


async def run_report_operation(call: OperationCall) -> Response:
    query = await operation_query(call.request)
    names = [value for name, value in query if name == "report"]
    if len(names) != 1:
        raise InvalidRequest(_("Name one report to run in the parameter 'report'."), expression="report")
    formats = [value for name, value in query if name == "_format"]
    report = await find_report(store_of(call.request), names[0])
    values = bind_parameters(report, [(name, value) for name, value in query if name not in _OWN])
    result = await run_report(report, call.policy, materializer_of(call.request), values)
    return report_response(result, (formats[-1] if formats else "json").lower(), report.name)


def _listed(report: Report, language: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "name", "valueString": report.name},
        {"name": "title", "valueString": report.title(language)},
    ]
    for parameter in report.parameters:
        parts.append({"name": "parameter", "part": [
            {"name": "name", "valueString": parameter.name},
            {"name": "type", "valueCode": parameter.type},
            {"name": "required", "valueBoolean": parameter.required},
        ]})  # fmt: skip
    if report.source is not None:
        parts.append({"name": "library", "valueReference": {"reference": report.source}})
    if report.chart is not None:
        chart = [{"name": "kind", "valueCode": report.chart.kind}, {"name": "x", "valueString": report.chart.x}]
        parts.append({"name": "chart", "part": chart + [{"name": "y", "valueString": y} for y in report.chart.y]})
    return {"name": "report", "part": parts}


async def list_reports(call: OperationCall) -> Response:
    unknown = [name for name, _value in await operation_query(call.request) if name not in ("_format", "_pretty")]
    if unknown:
        raise InvalidRequest(_("$reports takes no parameters; '{name}' is not one.").format(name=unknown[0][:64]),
                             expression=unknown[0][:64])  # fmt: skip
    language = current_language()
    reports = await all_reports(store_of(call.request))
    runnable = sorted((r for r in reports.values() if may_run(call.policy, r)), key=lambda r: r.title(language))
    return FhirResponse({"resourceType": "Parameters", "parameter": [_listed(r, language) for r in runnable]})


REPORT = Operation(
    code="report",
    id="report",
    title="Run a report",
    description=(
        "Run one report (a shipped one or a stored SQLQuery Library): its SQL on FHIR views, materialized "
        "and refreshed from the history, queried with DuckDB. Rows as JSON (an array of objects) or CSV "
        "(`_format` json or csv). The "
        "report's own parameters (such as start and end of the period) are given by name (see $reports)."
    ),
    levels=(SYSTEM,),
    resource_types=(),
    affects_state=False,
    parameters=(
        Parameter("report", "in", 1, "1", "string", "The report's name (see $reports)."),
        Parameter("_format", "in", 0, "1", "code", "json (default) or csv."),
        Parameter("return", "out", 1, "1", "Binary", "The rows: application/json or text/csv."),
    ),  # fmt: skip
    handler=run_report_operation,
)

REPORTS = Operation(
    code="reports",
    id="reports",
    title="List the reports the caller may run",
    description="The reports whose roles include the caller's and whose rows the caller may read: name, title "
    "in the caller's language, parameters, chart, and for a stored report its Library.",
    levels=(SYSTEM,),
    resource_types=(),
    affects_state=False,
    parameters=(Parameter("return", "out", 1, "1", "Parameters", "One 'report' parameter per report."),),
    handler=list_reports,
)
