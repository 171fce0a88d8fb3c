"""Importing files of FHIR data through the engine, and exporting the current resources as NDJSON.

Import takes files and folders (searched recursively) of:

- `.json` / `.json.gz`: a Bundle, a resource, or a JSON array of them. `transaction` and `batch`
  Bundles run as they are (`process_bundle`); the entries of any other Bundle (collection,
  searchset, ...) and plain resources are created-or-updated under their own ids.
- `.ndjson` / `.ndjson.gz`: one resource per line, created-or-updated under its own id.

Resources to create-or-update are sent in transaction Bundles of `chunk` PUT entries (POST for a
resource without id); when such a transaction fails, the same entries run again as a batch, so
only the bad ones fail, each reported with its line or entry. A bad file or line never stops the
rest. Up to `jobs` units of work (a Bundle, a chunk) run at once; a unit that touches a resource
an earlier one still in flight touches waits for it, so versions keep the order of the input.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..auth.policy import AccessPolicy
from ..errors import FhirError
from ..fhir_json import InvalidJson, loads
from ..i18n import _
from ..storage import CurrentQuery, ResourceStore
from .backup import ProgressSink
from .bundle import process_bundle

log = logging.getLogger(__name__)

SUFFIXES = (".ndjson", ".ndjson.gz", ".json", ".json.gz")
_WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Failure:
    """Something that could not be loaded: which file, where in it (line, entry), and why."""

    path: Path
    where: str | None
    message: str

    def __str__(self) -> str:
        place = f"{self.path}: {self.where}" if self.where else str(self.path)
        return f"{place}: {self.message}"


@dataclass
class ImportReport:
    files: int = 0
    resources: int = 0
    failures: list[Failure] = field(default_factory=list)


@dataclass
class _Unit:
    """One piece of work: a transaction/batch Bundle to run, or resources to create-or-update."""

    path: Path
    where: str | None = None
    bundle: dict[str, Any] | None = None
    items: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)


def _describe(exc: FhirError) -> str:
    return "; ".join(issue.diagnostics for issue in exc.issues) or str(exc)


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[Failure]]:
    """The files to import under `paths` (folders recursively, sorted), and the paths that are not usable."""
    files: list[Path] = []
    failures: list[Failure] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)))
        elif path.is_file():
            if path.name.endswith(SUFFIXES):
                files.append(path)
            else:
                failures.append(Failure(path, None, _("not a .json, .json.gz, .ndjson or .ndjson.gz file")))
        else:
            failures.append(Failure(path, None, _("no such file or folder")))
    return files, failures


def _open(path: Path) -> tuple[io.BufferedIOBase, io.BufferedIOBase]:
    """(the stream to read, the raw file whose position tells how many bytes are consumed)."""
    raw = path.open("rb")
    if path.name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    return raw, raw


def _resource_key(resource: dict[str, Any]) -> str | None:
    resource_id = resource.get("id")
    return f"{resource['resourceType']}/{resource_id}" if isinstance(resource_id, str) else None


def _bundle_keys(bundle: dict[str, Any]) -> set[str]:
    """The "Type/id" targets of a Bundle's write entries with literal URLs (best effort, for ordering)."""
    keys = set()
    for entry in bundle.get("entry") or ():
        request = entry.get("request") if isinstance(entry, dict) else None
        if isinstance(request, dict) and request.get("method") in ("PUT", "PATCH", "DELETE"):
            url = str(request.get("url", "")).split("?")[0].strip("/")
            if url.count("/") == 1:
                keys.add(url)
    return keys


class Importer:
    """Loads files through the engine; see the module docstring."""

    def __init__(
        self,
        store: ResourceStore,
        policy: AccessPolicy,
        *,
        jobs: int = 4,
        chunk: int = 200,
        progress: ProgressSink | None = None,
        on_failure: Callable[[Failure], None] | None = None,
    ) -> None:
        self._store, self._policy = store, policy
        self._jobs = asyncio.Semaphore(max(1, jobs))
        self._chunk = chunk
        self._progress = progress
        self._on_failure = on_failure
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.report = ImportReport()

    def _fail(self, failure: Failure) -> None:
        self.report.failures.append(failure)
        if self._on_failure is not None:
            self._on_failure(failure)

    def _advance(self, resources: int, done: int | None = None) -> None:
        self.report.resources += resources
        if self._progress is not None:
            self._progress.advance(resources, done=done)

    async def run(self, paths: Sequence[Path]) -> ImportReport:
        files, failures = collect_files(paths)
        for failure in failures:
            self._fail(failure)
        total = sum(p.stat().st_size for p in files)
        if self._progress is not None:
            self._progress.total = total
        before = 0
        for path in files:
            self.report.files += 1
            try:
                stream, raw = _open(path)
            except OSError as exc:
                self._fail(Failure(path, None, str(exc)))
                continue
            try:
                with stream, raw:
                    for unit in self._units(path, stream):
                        await self._submit(unit, before + raw.tell())
            except (OSError, EOFError) as exc:
                self._fail(Failure(path, None, _("cannot be read: {error}").format(error=exc)))
            before += path.stat().st_size
            self._advance(0, before)
        if self._tasks:
            await asyncio.wait(self._tasks)
        return self.report

    # --- reading ------------------------------------------------------------------------------------

    def _units(self, path: Path, stream: io.BufferedIOBase) -> Iterator[_Unit]:
        if path.name.endswith((".ndjson", ".ndjson.gz")):
            yield from self._chunks(path, self._ndjson(path, stream))
            return
        try:
            document = loads(stream.read(), unique_keys=True)
        except InvalidJson as exc:
            self._fail(Failure(path, None, _("not JSON: {error}").format(error=exc)))
            return
        documents = document if isinstance(document, list) else [document]
        loose: list[tuple[str | None, Any]] = []
        for number, item in enumerate(documents):
            where = f"item {number}" if isinstance(document, list) else None
            if isinstance(item, dict) and item.get("resourceType") == "Bundle":
                if item.get("type") in ("transaction", "batch"):
                    yield _Unit(path, where, bundle=item, keys=_bundle_keys(item))
                    continue
                for index, entry in enumerate(item.get("entry") or ()):
                    label = f"entry {index}" if where is None else f"{where} entry {index}"
                    loose.append((label, entry.get("resource") if isinstance(entry, dict) else None))
            else:
                loose.append((where, item))
        yield from self._chunks(path, self._checked(path, loose))

    def _ndjson(self, path: Path, stream: io.BufferedIOBase) -> Iterator[tuple[str | None, dict[str, Any]]]:
        def lines() -> Iterator[tuple[str | None, Any]]:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    yield f"line {number}", loads(line, unique_keys=True)
                except InvalidJson as exc:
                    self._fail(Failure(path, f"line {number}", _("not JSON: {error}").format(error=exc)))

        return self._checked(path, lines())

    def _checked(
        self, path: Path, items: Iterable[tuple[str | None, Any]]
    ) -> Iterator[tuple[str | None, dict[str, Any]]]:
        for where, item in items:
            if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
                self._fail(Failure(path, where, _("not a FHIR resource (no resourceType)")))
                continue
            yield where, item

    def _chunks(self, path: Path, items: Iterable[tuple[str | None, dict[str, Any]]]) -> Iterator[_Unit]:
        unit = _Unit(path)
        for where, resource in items:
            key = _resource_key(resource)
            if len(unit.items) >= self._chunk or (key is not None and key in unit.keys):
                yield unit
                unit = _Unit(path)
            unit.items.append((where, resource))
            if key is not None:
                unit.keys.add(key)
        if unit.items:
            yield unit

    # --- writing ------------------------------------------------------------------------------------

    async def _submit(self, unit: _Unit, done: int) -> None:
        await self._jobs.acquire()
        earlier = {self._inflight[k] for k in unit.keys if k in self._inflight}
        if earlier:
            await asyncio.wait(earlier)
        task = asyncio.create_task(self._run(unit, done))
        self._tasks.add(task)
        for key in unit.keys:
            self._inflight[key] = task

        def finished(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            for key in unit.keys:
                if self._inflight.get(key) is t:
                    del self._inflight[key]

        task.add_done_callback(finished)

    async def _run(self, unit: _Unit, done: int) -> None:
        try:
            if unit.bundle is not None:
                written = await self._run_bundle(unit)
            else:
                written = await self._run_items(unit)
            self._advance(written, done)
        except Exception as exc:  # a bug or a lost database must not hide the rest of the import
            log.exception("import unit failed", extra={"path": str(unit.path)})
            self._fail(Failure(unit.path, unit.where, str(exc) or exc.__class__.__name__))
        finally:
            self._jobs.release()

    async def _run_bundle(self, unit: _Unit) -> int:
        assert unit.bundle is not None
        try:
            _type, results = await process_bundle(self._store, self._policy, unit.bundle, None)
        except FhirError as exc:
            self._fail(Failure(unit.path, unit.where, _describe(exc)))
            return 0
        entries = unit.bundle.get("entry") or []
        written = 0
        for index, result in enumerate(results):
            if result.outcome is not None:
                where = f"entry {index}" if unit.where is None else f"{unit.where} entry {index}"
                self._fail(Failure(unit.path, where, _describe(result.outcome)))
            elif (entries[index].get("request") or {}).get("method") in _WRITE_METHODS:
                written += 1
        return written

    async def _run_items(self, unit: _Unit) -> int:
        entries = []
        for _where, resource in unit.items:
            key = _resource_key(resource)
            request = {"method": "PUT", "url": key} if key else {"method": "POST", "url": resource["resourceType"]}
            entries.append({"resource": resource, "request": request})
        try:
            transaction = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            await process_bundle(self._store, self._policy, transaction, None)
            return len(entries)
        except FhirError:
            pass  # find out which entries are bad: run them one by one
        batch = {"resourceType": "Bundle", "type": "batch", "entry": entries}
        _type, results = await process_bundle(self._store, self._policy, batch, None)
        written = 0
        for (where, _resource), result in zip(unit.items, results, strict=True):
            if result.outcome is not None:
                self._fail(Failure(unit.path, where, _describe(result.outcome)))
            else:
                written += 1
        return written


async def export_current(
    store: ResourceStore,
    resource_types: Sequence[str],
    folder: Path,
    *,
    page: int = 1000,
    progress: ProgressSink | None = None,
) -> dict[str, int]:
    """Write `Type.ndjson` in `folder` for each type with current (not deleted) resources; return the counts.

    Streams in keyset pages of `page` resources, writing the stored bodies as they are.
    """
    folder.mkdir(parents=True, exist_ok=True)
    totals = {kind: await store.count(CurrentQuery(kind, {})) for kind in resource_types}
    if progress is not None:
        progress.total = sum(totals.values())
    written: dict[str, int] = {}
    done = 0
    for kind in resource_types:
        if not totals[kind]:
            continue
        target, partial = folder / f"{kind}.ndjson", folder / f".{kind}.ndjson.partial"
        count = 0
        after: str | None = None
        with partial.open("wb") as out:
            while True:
                batch = await store.find(CurrentQuery(kind, {}, after=after), page)
                for record in batch:
                    if record.body is not None:
                        out.write(record.body)
                        out.write(b"\n")
                count += len(batch)
                done += len(batch)
                if progress is not None:
                    progress.advance(len(batch), done=done)
                if len(batch) < page:
                    break
                after = batch[-1].id
        partial.replace(target)
        written[kind] = count
    return written
