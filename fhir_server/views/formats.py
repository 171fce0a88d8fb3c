"""The output formats of `$viewdefinition-run`: json, ndjson, csv and parquet, each encoded as rows arrive.

Every encoder turns an async stream of rows into an async stream of byte chunks of `BATCH` rows
each (one write to the socket per chunk, not per row), so a response is sent while the view runs
and memory holds one batch. JSON is one array of objects (the IG);
ndjson one object a line; CSV has a header line unless `header=false`, and a collection column
holds its values as a JSON array; Parquet is written one row group per `BATCH` rows (pyarrow), the
column types mapped from the view's column types (a collection column is a list column).
Exact decimals stay exact in JSON, ndjson and CSV (their digits as stored); a Parquet `decimal`
column is float64, since a Parquet decimal needs a fixed scale that a view does not give.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..fhir_json import dumps
from .definition import Column

BATCH = 1000
Rows = AsyncIterator[dict[str, Any]]


@dataclass(frozen=True)
class Format:
    code: str
    media_type: str
    extension: str


FORMATS = {
    "json": Format("json", "application/json", "json"),
    "ndjson": Format("ndjson", "application/x-ndjson", "ndjson"),
    "csv": Format("csv", "text/csv", "csv"),
    "parquet": Format("parquet", "application/vnd.apache.parquet", "parquet"),
}
ALIASES = {
    "application/json": "json",
    "application/fhir+json": "json",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/fhir+ndjson": "ndjson",
    "text/csv": "csv",
    "application/octet-stream": "parquet",
    "application/vnd.apache.parquet": "parquet",
}


def format_code(raw: str) -> str | None:
    """The format a `_format` value or media type names (None: not one of the four)."""
    value = raw.strip().split(";")[0].strip().lower()
    return value if value in FORMATS else ALIASES.get(value)


async def _json(rows: Rows) -> AsyncIterator[bytes]:
    parts, separator = [b"["], b""
    async for row in rows:
        parts.append(separator + dumps(row))
        separator = b","
        if len(parts) > BATCH:
            yield b"".join(parts)
            parts = []
    parts.append(b"]")
    yield b"".join(parts)


async def _ndjson(rows: Rows) -> AsyncIterator[bytes]:
    parts: list[bytes] = []
    async for row in rows:
        parts.append(dumps(row))
        if len(parts) >= BATCH:
            yield b"\n".join(parts) + b"\n"
            parts = []
    if parts:
        yield b"\n".join(parts) + b"\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return dumps(value).decode()
    return str(value)


async def _csv(rows: Rows, columns: Sequence[Column], header: bool) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow([column.name for column in columns])
    count = 0
    async for row in rows:
        writer.writerow([_cell(value) for value in row.values()])
        count += 1
        if count % BATCH == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


_ARROW_TYPES = {
    "boolean": "bool_",
    "integer": "int64",
    "positiveInt": "int64",
    "unsignedInt": "int64",
    "integer64": "int64",
    "decimal": "float64",
}


def _arrow_schema(columns: Sequence[Column]) -> Any:
    import pyarrow as pa

    fields = []
    for column in columns:
        kind = getattr(pa, _ARROW_TYPES.get(column.type or "", "string"))()
        fields.append(pa.field(column.name, pa.list_(kind) if column.collection else kind))
    return pa.schema(fields)


def _arrow_value(value: Any, column: Column) -> Any:
    if value is None:
        return None
    if column.collection:
        return [_arrow_value(item, Column(column.name, column.type, False)) for item in value]
    kind = _ARROW_TYPES.get(column.type or "")
    if kind is None:
        return value if isinstance(value, str) else _cell(value)
    if kind == "float64" and isinstance(value, Decimal | int):
        return float(value)
    return value


class _Sink(io.RawIOBase):
    """Collects what pyarrow writes, to be taken out after each row group."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


async def _parquet(rows: Rows, columns: Sequence[Column]) -> AsyncIterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema(columns)
    sink = _Sink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema)
    batch: list[dict[str, Any]] = []

    def write() -> bytes:
        values = {c.name: [_arrow_value(row[c.name], c) for row in batch] for c in columns}
        writer.write_table(pa.Table.from_pydict(values, schema=schema))
        batch.clear()
        return sink.take()

    async for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield write()
    if batch:
        yield write()
    writer.close()
    yield sink.take()


def encode(code: str, rows: Rows, columns: Sequence[Column], *, header: bool = True) -> AsyncIterator[bytes]:
    """The rows in format `code` (one of FORMATS), as byte chunks."""
    if code == "json":
        return _json(rows)
    if code == "ndjson":
        return _ndjson(rows)
    if code == "csv":
        return _csv(rows, columns, header)
    return _parquet(rows, columns)
