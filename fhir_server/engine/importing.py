"""Importing files of FHIR data through the engine, and exporting the current resources as NDJSON.

Import takes files and folders (searched recursively) of:

- `.json` / `.json.gz`: a Bundle, a resource, or a JSON array of them. `transaction` Bundles run
  as they are (`process_bundle`), `batch` Bundles entry by entry; the entries of any other
  Bundle (collection, searchset, ...) and plain resources are created-or-updated under their own ids.
- `.ndjson` / `.ndjson.gz`: one resource per line, created-or-updated under its own id.

Resources to create-or-update are sent in transaction Bundles of `chunk` PUT entries (POST for a
resource without id); when such a transaction fails, its entries run again one by one, so only
the bad ones fail, each reported with its line or entry. A bad file or line never stops the
rest. Up to `jobs` units of work (a Bundle, a chunk) run at once, once the first has run alone; a
unit that touches a resource an earlier one still in flight touches waits for it, so versions keep
the order of the input.

Running again creates nothing twice. A file is known by the sha256 of its bytes; each piece of it
that writes (a transaction Bundle, a batch entry, a chunk of lines, a line run on its own) is
recorded in the same database transaction as its versions (storage/imports.py), and a file once
all of it is stored with no failure. A later run skips what is recorded and says so, so a run
stopped half way continues where it stopped. Content alone could not tell: a Bundle that creates
with POST and `urn:uuid` fullUrls (Synthea) gets new server ids each time it runs.

Stopping (`stop`, on Ctrl-C): nothing more is read or started, the pieces in flight finish (each
commits whole or not at all). `abandon` (a second Ctrl-C) cancels them too; their transactions
roll back, and their records with them.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..auth.policy import AccessPolicy
from ..errors import FhirError
from ..fhir_json import InvalidJson, loads
from ..i18n import _
from ..storage import CurrentQuery, LinkedDocument, PendingWrite, ResourceStore
from ..storage.imports import IMPORT_RECORDS, MongoImportRecords, piece_record
from .backup import ProgressSink
from .bundle import process_bundle
from .identity import now
from .observers import add_write_observer, remove_write_observer

log = logging.getLogger(__name__)

SUFFIXES = (".ndjson", ".ndjson.gz", ".json", ".json.gz")
_WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

_piece: ContextVar[tuple[str, str, str] | None] = ContextVar("fhir_server_import_piece", default=None)
"""(file sha256, piece, path) of the piece the current task is writing."""


async def _record_piece(_store: ResourceStore, writes: Sequence[PendingWrite]) -> Sequence[LinkedDocument]:
    """Write observer: the record of the piece being imported, committed with its versions.

    Each piece commits once (one transaction, or one entry), so its record is inserted once.
    """
    piece = _piece.get()
    if piece is None or not writes:
        return ()
    digest, where, path = piece
    at = max(write.record.last_updated for write in writes)
    return (LinkedDocument(IMPORT_RECORDS, piece_record(digest, where, path, len(writes), at)),)


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
class FileOutcome:
    """What became of one file: resources written, pieces skipped as already imported, failures."""

    path: Path
    resources: int = 0
    skipped: int = 0
    failures: int = 0
    whole: bool = False
    """The whole file was imported before: skipped unread."""


@dataclass
class ImportReport:
    files: int = 0
    resources: int = 0
    failures: list[Failure] = field(default_factory=list)
    finished: list[FileOutcome] = field(default_factory=list)
    """Files done with, in the order they finished (each one's writes committed)."""
    unfinished: list[Path] = field(default_factory=list)
    """Files not (wholly) done when the import was stopped."""
    stopped: bool = False

    @property
    def skipped_files(self) -> int:
        return sum(1 for outcome in self.finished if outcome.whole)

    @property
    def skipped_pieces(self) -> int:
        return sum(outcome.skipped for outcome in self.finished)


@dataclass
class _Unit:
    """One piece of work: a Bundle to run, or resources to create-or-update.

    `label` is the piece's name in the import records; `items` are (where, resource) with the
    where of each line or entry (also its record name when run on its own).
    """

    path: Path
    label: str
    where: str | None = None
    bundle: dict[str, Any] | None = None
    items: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)


@dataclass
class _File:
    outcome: FileOutcome
    digest: str
    done: set[str]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


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


def _within(where: str | None, part: str) -> str:
    return part if where is None else f"{where} {part}"


class Importer:
    """Loads files through the engine; see the module docstring."""

    def __init__(
        self,
        store: ResourceStore,
        records: MongoImportRecords,
        policy: AccessPolicy,
        *,
        jobs: int = 4,
        chunk: int = 200,
        progress: ProgressSink | None = None,
        on_failure: Callable[[Failure], None] | None = None,
        on_file: Callable[[FileOutcome], None] | None = None,
    ) -> None:
        self._store, self._records, self._policy = store, records, policy
        self._jobs = asyncio.Semaphore(1)
        self._held_back = max(1, jobs) - 1
        """The slots opened once the first unit has run (`_open_slots`)."""
        self._chunk = chunk
        self._progress = progress
        self._on_failure = on_failure
        self._on_file = on_file
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._finishers: set[asyncio.Task[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        self.report = ImportReport()

    def stop(self) -> None:
        """Read and start nothing more; the pieces in flight finish (`run` returns once they have)."""
        self.report.stopped = True
        if self._reader is not None:
            self._reader.cancel()

    def abandon(self) -> None:
        """Stop, and cancel the pieces in flight too: each one's transaction rolls back whole."""
        self.stop()
        for task in self._tasks:
            task.cancel()

    def _fail(self, failure: Failure, file: _File | None = None) -> None:
        self.report.failures.append(failure)
        if file is not None:
            file.outcome.failures += 1
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
        if self._progress is not None:
            self._progress.total = sum(p.stat().st_size for p in files)
        add_write_observer(_record_piece)
        try:
            self._reader = asyncio.create_task(self._read_all(files))
            await asyncio.wait({self._reader})
            while pending := self._tasks | self._finishers:
                await asyncio.wait(pending)
        finally:
            remove_write_observer(_record_piece)
        if not self._reader.cancelled():
            self._reader.result()  # a lost database while reading: raised once the pieces in flight are done
        finished = {outcome.path for outcome in self.report.finished}
        self.report.unfinished = [path for path in files if path not in finished]
        return self.report

    async def _read_all(self, files: Sequence[Path]) -> None:
        before = 0
        for path in files:
            self.report.files += 1
            await self._read_file(path, before)
            before += path.stat().st_size
            self._advance(0, before)

    async def _read_file(self, path: Path, before: int) -> None:
        outcome = FileOutcome(path)
        try:
            digest = await asyncio.to_thread(_sha256, path)
        except OSError as exc:
            self._fail(Failure(path, None, str(exc)), _File(outcome, "", set()))
            self._finished(outcome)
            return
        whole, done = await self._records.finished(digest)
        file = _File(outcome, digest, done)
        if whole:
            outcome.whole = True
            self._finished(outcome)
            return
        try:
            stream, raw = _open(path)
            with stream, raw:
                for unit in self._units(path, stream, file):
                    await self._submit(unit, file, before + raw.tell())
        except (OSError, EOFError) as exc:
            self._fail(Failure(path, None, _("cannot be read: {error}").format(error=exc)), file)
        finisher = asyncio.create_task(self._finish(file))
        self._finishers.add(finisher)
        finisher.add_done_callback(self._finishers.discard)

    async def _finish(self, file: _File) -> None:
        """Once every piece of a read file is done: record the file when all of it is stored, and report it."""
        if file.tasks:
            await asyncio.wait(file.tasks)
        if any(task.cancelled() for task in file.tasks):
            return  # abandoned: not finished
        outcome = file.outcome
        if not outcome.failures:
            record = {"path": str(outcome.path), "resources": outcome.resources, "at": now()}
            try:
                await self._records.finish_file(file.digest, record)
            except Exception as exc:  # its pieces are recorded: a later run skips them one by one
                log.exception("import file record failed", extra={"path": str(outcome.path)})
                self._fail(Failure(outcome.path, None, str(exc) or exc.__class__.__name__), file)
        self._finished(outcome)

    def _finished(self, outcome: FileOutcome) -> None:
        self.report.finished.append(outcome)
        if self._on_file is not None:
            self._on_file(outcome)

    # --- reading ------------------------------------------------------------------------------------

    def _units(self, path: Path, stream: io.BufferedIOBase, file: _File) -> Iterator[_Unit]:
        if path.name.endswith((".ndjson", ".ndjson.gz")):
            yield from self._chunks(path, self._ndjson(stream, file), file)
            return
        try:
            document = loads(stream.read(), unique_keys=True)
        except InvalidJson as exc:
            self._fail(Failure(path, None, _("not JSON: {error}").format(error=exc)), file)
            return
        documents = document if isinstance(document, list) else [document]
        loose: list[tuple[str, Any]] = []
        for number, item in enumerate(documents):
            where = f"item {number}" if isinstance(document, list) else None
            if isinstance(item, dict) and item.get("resourceType") == "Bundle":
                if item.get("type") in ("transaction", "batch"):
                    label = where or "bundle"
                    yield _Unit(path, label, where, bundle=item, keys=_bundle_keys(item))
                    continue
                for index, entry in enumerate(item.get("entry") or ()):
                    loose.append(
                        (_within(where, f"entry {index}"), entry.get("resource") if isinstance(entry, dict) else None)
                    )
            else:
                loose.append((where or "resource", item))
        yield from self._chunks(path, self._checked(loose, file), file)

    def _ndjson(self, stream: io.BufferedIOBase, file: _File) -> Iterator[tuple[str, dict[str, Any]]]:
        def lines() -> Iterator[tuple[str, Any]]:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    yield f"line {number}", loads(line, unique_keys=True)
                except InvalidJson as exc:
                    failure = Failure(file.outcome.path, f"line {number}", _("not JSON: {error}").format(error=exc))
                    self._fail(failure, file)

        return self._checked(lines(), file)

    def _checked(self, items: Iterable[tuple[str, Any]], file: _File) -> Iterator[tuple[str, dict[str, Any]]]:
        for where, item in items:
            if not isinstance(item, dict) or not isinstance(item.get("resourceType"), str):
                place = None if where == "resource" else where
                self._fail(Failure(file.outcome.path, place, _("not a FHIR resource (no resourceType)")), file)
                continue
            yield where, item

    def _chunks(self, path: Path, items: Iterable[tuple[str, dict[str, Any]]], file: _File) -> Iterator[_Unit]:
        unit: list[tuple[str, dict[str, Any]]] = []
        keys: set[str] = set()

        def made() -> _Unit:
            label = unit[0][0] if len(unit) == 1 else f"{unit[0][0]} - {unit[-1][0]}"
            return _Unit(path, label, items=unit, keys=keys)

        for where, resource in items:
            key = _resource_key(resource)
            if len(unit) >= self._chunk or (key is not None and key in keys):
                yield made()
                unit, keys = [], set()
            unit.append((where, resource))
            if key is not None:
                keys.add(key)
        if unit:
            yield made()

    # --- writing ------------------------------------------------------------------------------------

    async def _submit(self, unit: _Unit, file: _File, done: int) -> None:
        if unit.label in file.done:
            file.outcome.skipped += 1
            return
        await self._jobs.acquire()
        try:
            earlier = {self._inflight[k] for k in unit.keys if k in self._inflight}
            if earlier:
                await asyncio.wait(earlier)
        except BaseException:  # stopped while waiting: the slot is not used
            self._jobs.release()
            raise
        task = asyncio.create_task(self._run(unit, file, done))
        self._tasks.add(task)
        file.tasks.append(task)
        for key in unit.keys:
            self._inflight[key] = task

        def finished(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            for key in unit.keys:
                if self._inflight.get(key) is t:
                    del self._inflight[key]

        task.add_done_callback(finished)

    async def _run(self, unit: _Unit, file: _File, done: int) -> None:
        try:
            if unit.bundle is not None and unit.bundle.get("type") == "transaction":
                written = await self._run_transaction(unit, file)
            elif unit.bundle is not None:
                written = await self._run_batch(unit, file)
            else:
                written = await self._run_items(unit, file)
            file.outcome.resources += written
            self._advance(written, done)
        except Exception as exc:  # a bug or a lost database must not hide the rest of the import
            log.exception("import unit failed", extra={"path": str(unit.path)})
            self._fail(Failure(unit.path, unit.where, str(exc) or exc.__class__.__name__), file)
        finally:
            self._jobs.release()
            self._open_slots()

    def _open_slots(self) -> None:
        """After the first unit, the other `jobs` slots. On a fresh database the first transaction creates
        the collections and marks the indexes it writes (multikey); several first transactions at once all
        wrote those, and all but one were rolled back and ran again: an eighth of a 40-Bundle import."""
        for _slot in range(self._held_back):
            self._jobs.release()
        self._held_back = 0

    async def _piece(self, file: _File, label: str, bundle: dict[str, Any]) -> list[Any]:
        """Run `bundle` as the piece `label` of `file` (recorded with its writes); its entry results."""
        token = _piece.set((file.digest, label, str(file.outcome.path)))
        try:
            _type, results = await process_bundle(self._store, self._policy, bundle, None)
        finally:
            _piece.reset(token)
        return results

    async def _run_transaction(self, unit: _Unit, file: _File) -> int:
        assert unit.bundle is not None
        try:
            results = await self._piece(file, unit.label, unit.bundle)
        except FhirError as exc:
            self._fail(Failure(unit.path, unit.where, _describe(exc)), file)
            return 0
        entries = unit.bundle.get("entry") or []
        written = 0
        for index, result in enumerate(results):
            if result.outcome is not None:
                self._fail(Failure(unit.path, _within(unit.where, f"entry {index}"), _describe(result.outcome)), file)
            elif (entries[index].get("request") or {}).get("method") in _WRITE_METHODS:
                written += 1
        return written

    async def _run_batch(self, unit: _Unit, file: _File) -> int:
        """A batch Bundle entry by entry, each recorded with its own write."""
        assert unit.bundle is not None
        entries = unit.bundle.get("entry")
        if not isinstance(entries, list):  # no entries, or not a list: process_bundle says which
            try:
                await self._piece(file, unit.label, unit.bundle)
            except FhirError as exc:
                self._fail(Failure(unit.path, unit.where, _describe(exc)), file)
            return 0
        written = 0
        for index, entry in enumerate(entries):
            where = _within(unit.where, f"entry {index}")
            if where in file.done:
                file.outcome.skipped += 1
                continue
            [result] = await self._piece(file, where, {**unit.bundle, "entry": [entry]})
            if result.outcome is not None:
                self._fail(Failure(unit.path, where, _describe(result.outcome)), file)
            elif isinstance(entry, dict) and (entry.get("request") or {}).get("method") in _WRITE_METHODS:
                written += 1
        return written

    async def _run_items(self, unit: _Unit, file: _File) -> int:
        items = [(where, resource) for where, resource in unit.items if where not in file.done]
        file.outcome.skipped += len(unit.items) - len(items)
        if not items:
            return 0
        entries = [self._entry(resource) for _where, resource in items]
        try:
            await self._piece(file, unit.label, {"resourceType": "Bundle", "type": "transaction", "entry": entries})
            return len(entries)
        except FhirError:
            pass  # find out which entries are bad: run them one by one
        written = 0
        for (where, _resource), entry in zip(items, entries, strict=True):
            [result] = await self._piece(file, where, {"resourceType": "Bundle", "type": "batch", "entry": [entry]})
            if result.outcome is not None:
                self._fail(Failure(unit.path, None if where == "resource" else where, _describe(result.outcome)), file)
            else:
                written += 1
        return written

    @staticmethod
    def _entry(resource: dict[str, Any]) -> dict[str, Any]:
        key = _resource_key(resource)
        request = {"method": "PUT", "url": key} if key else {"method": "POST", "url": resource["resourceType"]}
        return {"resource": resource, "request": request}


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
