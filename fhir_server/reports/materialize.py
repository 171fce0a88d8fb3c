"""A view's rows materialized as a Parquet file under the data directory, refreshed from the history.

One file per view content (`<data_dir>/reports/<sha256 of the view>.parquet`), so a changed view is a
new file and never mixes rows of two definitions. Besides the view's columns each row keeps the key
and version of the resource it came from (`__resource`, `__version`), and the file's metadata keeps
the high-water mark: every write that committed before it is in the file.

A refresh reads the type's history since the mark (`_since`) and keeps each resource's newest
version: an update replaces the resource's rows, a deletion removes them, a version already in the
file is skipped. The mark is set OVERLAP before the refresh started, because a write's lastUpdated
is taken a little before its transaction commits: re-reading that window costs little and a version
seen twice is skipped. The file is replaced atomically (write, then rename), so a reader or another
process sharing the data directory sees the old file or the new one, never half of one.

When more versions were written since the mark than the file has resources (50,000 at least), the
file is rebuilt from the current resources instead, which reads less.

The same files are plain Parquet: Spark (e.g. Pathling), DuckDB or pandas read them as they are.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..config import Settings
from ..storage import ResourceStore, StoredResource
from ..storage.records import now
from ..views.definition import View, compile_view
from ..views.rows import compiled_rows
from .source import current, latest_changes

KEY, VERSION = "__resource", "__version"
MARK = b"fhir_server.reports.mark"
OVERLAP = timedelta(seconds=5)
REBUILD_ABOVE = 50_000
"""More versions than this (or than the view has resources) written since the mark: rebuild instead."""
_INTEGERS = frozenset({"integer", "positiveInt", "unsignedInt", "integer64"})


def view_digest(view: Mapping[str, Any]) -> str:
    """The name of a view's file: the same content gives the same name in every process."""
    return hashlib.sha256(json.dumps(view, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:40]


def _arrow_type(fhir_type: str | None, collection: bool) -> pa.DataType:
    """Booleans and integers keep their type; everything else is text (decimals keep their exact digits)."""
    base = pa.bool_() if fhir_type == "boolean" else pa.int64() if fhir_type in _INTEGERS else pa.string()
    return pa.list_(base) if collection else base


def schema_of(view: View) -> pa.Schema:
    """The Parquet schema of a view's rows: its columns, then the resource key and version."""
    fields = [pa.field(c.name, _arrow_type(c.type, bool(c.collection))) for c in view.columns]
    return pa.schema([*fields, pa.field(KEY, pa.string()), pa.field(VERSION, pa.int64())])


def _cell(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_list(kind):
        items = value if isinstance(value, list) else [value]
        return [_cell(item, kind.value_type) for item in items]
    if pa.types.is_boolean(kind):
        return bool(value)
    if pa.types.is_integer(kind):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _rows_of(view: View, schema: pa.Schema, records: Iterable[StoredResource]) -> pa.Table:
    """The view's rows of `records` (current versions), each tagged with its resource key and version."""
    names = schema.names[:-2]
    kinds = [schema.field(name).type for name in names]
    data: dict[str, list[Any]] = {name: [] for name in schema.names}
    for record in records:
        for row in compiled_rows(view, [record.resource()]):
            for name, kind in zip(names, kinds, strict=True):
                data[name].append(_cell(row.get(name), kind))
            data[KEY].append(record.id)
            data[VERSION].append(record.version_id)
    return pa.table(data, schema=schema)


@dataclass
class _Loaded:
    mark: datetime
    table: pa.Table
    versions: dict[str, int]
    stamp: tuple[int, int]
    """The file's (mtime_ns, size) when read: another process may have replaced it since."""


class Materializer:
    """The materialized views of one data directory, with the latest of each kept in memory."""

    def __init__(self, store: ResourceStore, directory: Path) -> None:
        self.store = store
        self.directory = directory
        self._loaded: dict[str, _Loaded] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def path(self, view: Mapping[str, Any]) -> Path:
        return self.directory / f"{view_digest(view)}.parquet"

    async def rows(self, view: Mapping[str, Any]) -> pa.Table:
        """The view's rows as of now (refreshed first), without the key and version columns."""
        loaded = await self.refresh(view)
        return loaded.table.drop_columns([KEY, VERSION])

    async def refresh(self, view: Mapping[str, Any]) -> _Loaded:
        """Bring the view's file up to date with the writes committed so far; build it the first time."""
        digest = view_digest(view)
        async with self._locks.setdefault(digest, asyncio.Lock()):
            loaded = await asyncio.to_thread(self._read, digest)
            if loaded is None:
                loaded = await self._build(view)
            else:
                loaded = await self._update(view, loaded)
            self._loaded[digest] = loaded
            return loaded

    def _read(self, digest: str) -> _Loaded | None:
        path = self.directory / f"{digest}.parquet"
        try:
            status = path.stat()
        except FileNotFoundError:
            return None
        stamp = (status.st_mtime_ns, status.st_size)
        cached = self._loaded.get(digest)
        if cached is not None and cached.stamp == stamp:
            return cached
        table = pq.read_table(path)
        mark = datetime.fromisoformat((table.schema.metadata or {})[MARK].decode())
        versions = dict(zip(table.column(KEY).to_pylist(), table.column(VERSION).to_pylist(), strict=True))
        return _Loaded(mark, table.replace_schema_metadata(None), versions, stamp)

    def _write(self, view: Mapping[str, Any], table: pa.Table, mark: datetime) -> _Loaded:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(view)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        pq.write_table(table.replace_schema_metadata({MARK: mark.isoformat().encode()}), partial)
        os.replace(partial, path)
        status = path.stat()
        versions = dict(zip(table.column(KEY).to_pylist(), table.column(VERSION).to_pylist(), strict=True))
        return _Loaded(mark, table, versions, (status.st_mtime_ns, status.st_size))

    async def _build(self, view: Mapping[str, Any]) -> _Loaded:
        mark = now() - OVERLAP
        compiled = compile_view(dict(view))
        schema = schema_of(compiled)
        batches: list[pa.Table] = []
        page: list[StoredResource] = []
        async for record in current(self.store, str(view["resource"])):
            page.append(record)
            if len(page) >= 1000:
                batches.append(_rows_of(compiled, schema, page))
                page = []
        batches.append(_rows_of(compiled, schema, page))
        return await asyncio.to_thread(self._write, view, pa.concat_tables(batches), mark)

    async def _update(self, view: Mapping[str, Any], loaded: _Loaded) -> _Loaded:
        mark = now() - OVERLAP
        changes = await latest_changes(
            self.store, str(view["resource"]), loaded.mark, max(REBUILD_ABOVE, len(loaded.versions))
        )
        if changes is None:
            return await self._build(view)
        fresh = {
            key: record for key, record in changes.items()
            if loaded.versions.get(key) != record.version_id and not (record.deleted and key not in loaded.versions)
        }  # fmt: skip
        if not fresh:
            return replace(loaded, mark=mark)
        added = _rows_of(compile_view(dict(view)), loaded.table.schema, (r for r in fresh.values() if not r.deleted))
        if added.num_rows == 0 and not any(key in loaded.versions for key in fresh):
            return replace(loaded, mark=mark)
        kept = loaded.table.filter(pc.invert(pc.is_in(loaded.table.column(KEY), pa.array(list(fresh), pa.string()))))
        return await asyncio.to_thread(self._write, view, pa.concat_tables([kept, added]), mark)


_PER_PROCESS: dict[Path, Materializer] = {}


def views_directory(settings: Settings) -> Path:
    """Where the materialized views of the configured database live: a folder per database name, so two
    databases sharing a data directory never share rows."""
    return Path(settings.data_dir).resolve() / "reports" / settings.database


def materializer_for(store: ResourceStore, settings: Settings) -> Materializer:
    """The one Materializer of this process for the configured database (the API and the duty share it)."""
    directory = views_directory(settings)
    found = _PER_PROCESS.get(directory)
    if found is None or found.store is not store:
        found = _PER_PROCESS[directory] = Materializer(store, directory)
    return found
