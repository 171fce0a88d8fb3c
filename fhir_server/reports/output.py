"""A report's answer as JSON (an array of row objects, as SQL on FHIR's `$run` writes json) or CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from ..errors import InvalidRequest
from ..fhir_json import dumps
from ..i18n import _
from .query import QueryResult

FORMATS = ("json", "csv")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str | Decimal):
        return value
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    return _text(value)


def rows_as_json(result: QueryResult) -> list[dict[str, Any]]:
    return [dict(zip(result.columns, map(_json_value, row), strict=True)) for row in result.rows]


def report_response(result: QueryResult, output: str, name: str) -> Response:
    """The rows in `output` format (json or csv; InvalidRequest for another)."""
    if output == "json":
        return Response(dumps(rows_as_json(result)), media_type="application/json")
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(result.columns)
        writer.writerows([_text(value) for value in row] for row in result.rows)
        disposition = f'attachment; filename="{name}.csv"'
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": disposition})  # fmt: skip
    raise InvalidRequest(_("_format '{value}' is not one a report is written in; use json or csv.").format(
        value=output[:40]), expression="_format")  # fmt: skip
