"""The output formats of the view operations, on rows with every kind of value: exact decimals, booleans,
nulls, collections and complex values."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fhir_server.views import columns
from fhir_server.views.formats import BATCH, encode, format_code

VIEW = {
    "resource": "Observation",
    "select": [{"column": [
        {"name": "id", "path": "id", "type": "id"},
        {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
        {"name": "flag", "path": "value.exists()", "type": "boolean"},
        {"name": "codes", "path": "code.coding.code", "type": "code", "collection": True},
        {"name": "code", "path": "code", "type": "CodeableConcept"},
    ]}],
}  # fmt: skip
ROWS: list[dict[str, Any]] = [
    {"id": "a", "value": Decimal("1.50"), "flag": True, "codes": ["x", "y"], "code": {"text": "t"}},
    {"id": "b", "value": None, "flag": False, "codes": [], "code": None},
]


def _encoded(code: str, rows: list[dict[str, Any]], header: bool = True) -> bytes:
    async def source() -> AsyncIterator[dict[str, Any]]:
        for row in rows:
            yield row

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in encode(code, source(), columns(VIEW), header=header)])

    return asyncio.run(collect())


def test_json_and_ndjson_keep_decimals_exact() -> None:
    assert _encoded("json", ROWS) == (
        b'[{"id":"a","value":1.50,"flag":true,"codes":["x","y"],"code":{"text":"t"}},'
        b'{"id":"b","value":null,"flag":false,"codes":[],"code":null}]'
    )
    assert _encoded("json", []) == b"[]"
    lines = _encoded("ndjson", ROWS).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"] and '"value":1.50' in lines[0]


def test_json_and_ndjson_come_in_chunks_of_batch_rows() -> None:
    many = [{**ROWS[1], "id": str(n)} for n in range(2 * BATCH + 3)]

    async def chunks(code: str) -> list[bytes]:
        async def source() -> AsyncIterator[dict[str, Any]]:
            for row in many:
                yield row

        return [chunk async for chunk in encode(code, source(), columns(VIEW))]

    for code in ("json", "ndjson"):
        parts = asyncio.run(chunks(code))
        assert len(parts) == 3, code  # one write per BATCH rows, not one per row
        text = b"".join(parts).decode()
        ids = (
            [row["id"] for row in json.loads(text)]
            if code == "json"
            else [json.loads(line)["id"] for line in text.splitlines()]
        )
        assert ids == [str(n) for n in range(2 * BATCH + 3)], code


def test_csv() -> None:
    text = _encoded("csv", ROWS).decode()
    assert list(csv.reader(io.StringIO(text))) == [
        ["id", "value", "flag", "codes", "code"],
        ["a", "1.50", "true", '["x","y"]', '{"text":"t"}'],
        ["b", "", "false", "[]", ""],
    ]
    assert _encoded("csv", ROWS, header=False).decode().splitlines()[0].startswith("a,")


def test_parquet_types_and_row_groups() -> None:
    many = [{**ROWS[0], "id": str(n)} for n in range(BATCH + 5)] + [ROWS[1]]
    parquet = pq.ParquetFile(io.BytesIO(_encoded("parquet", many)))
    assert parquet.metadata.num_row_groups == 2 and parquet.metadata.num_rows == BATCH + 6
    schema = parquet.schema_arrow
    expected = [pa.string(), pa.float64(), pa.bool_(), pa.list_(pa.string()), pa.string()]
    assert [schema.field(name).type for name in schema.names] == expected
    table = parquet.read().to_pylist()
    assert table[0] == {"id": "0", "value": 1.5, "flag": True, "codes": ["x", "y"], "code": '{"text":"t"}'}
    assert table[-1] == {"id": "b", "value": None, "flag": False, "codes": [], "code": None}


def test_format_names_and_media_types() -> None:
    assert [format_code(v) for v in ("csv", "text/csv", "application/x-ndjson", "Application/JSON; charset=utf-8")] == [
        "csv",
        "csv",
        "ndjson",
        "json",
    ]
    assert format_code("application/octet-stream") == "parquet" and format_code("xlsx") is None
