"""Backup and restore of a whole server: every version of every resource, and the server's own state.

A backup is a folder:

- `history.ndjson.gz`: one JSON object per stored version, deleted ones included:
  `{"_id": "Type/id/3", "type", "id", "version", "lastUpdated", "deleted", "method", "replacedAt",
  "resource"}`. Instants are ISO 8601 with an offset (millisecond precision, as stored);
  `replacedAt` (the next version's `lastUpdated`, for readers of the file; restore does not need
  it) is null for a version that was current at the backup instant; `resource` is the
  resource as a JSON object (null for a deletion), exactly the stored bytes re-parsed, so the
  file stays readable and greppable. Lines are ordered by type, id, then version newest first,
  so the first line of each resource is its current version (restore checks this order).
- `state.ndjson.gz`: one `{"collection", "document"}` per document of the server's own state
  (`storage.backup.SERVER_STATE`: the conditional-create counters, the audit log and its chain
  head, user accounts and registered clients with their password and secret hashes as stored,
  the public signing keys, the import records; and the collections adapters register with
  `storage.backup.register_state_collection`, such as the HL7 v2 outbox and message log),
  documents in canonical extended JSON. What is transient (jobs, tokens, sessions, codes) or
  secret beyond need (the private signing keys) is left out (`storage.backup.LEFT_OUT`);
  SearchParameters are resources, so they are in the history. A collection that is in neither
  list is named in the result (`not_kept`), so a new one cannot be forgotten silently.
- `audit.key` (mode 0600): the server's audit key (audit/key.py), the secret the audit records'
  MACs and chain are sealed under; without it the restored log cannot be verified or extended.
  Listed in the manifest like the other files; a backup made before it was kept has none.
- `manifest.json`, written last: format and version, the backup instant, counts, and the byte
  size and sha256 of each file. A folder without it is an unfinished backup.

Consistency: the backup takes T = now at start and keeps exactly the versions with
`lastUpdated <= T`. History is append-only and every version carries its instant, so that is the
state at T, with one window: a write stamps its versions before it commits, so a transaction in
flight at T may commit a version with `lastUpdated <= T` a little after T. The backup therefore
waits `settle` seconds (default 2, far beyond the milliseconds a commit takes) before reading,
and once it has read, counts the versions with `lastUpdated <= T` again: if a late commit added
one, it reads again (up to three times, then fails). A version replaced after T is written with
`replacedAt` null, as it was still current at T. The `conditions` counters carry no
instant; they are copied as they are when read (a counter only ever grows, and a larger one is
as good as the one at T). A registered collection with a `written_at` field keeps the documents
written up to T (an outbox entry belongs to its ServiceRequest version), each as it is when read: an
order sent or acknowledged after T is restored as such, so it is not sent again.

Restore verifies the whole backup before writing anything (files, sizes, sha256, the audit key's
included, gzip streams read to the end, line structure and order, counts), refuses a database that holds anything, then
inserts the versions as they are, rebuilds the current versions with their search fields
recomputed by `search_fields` (and each version's patient compartments and search entries,
which patient-scoped and granular history filter on), and restores the state. Memory stays flat either way: everything
streams in batches.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

from .. import __version__
from ..errors import FhirError
from ..fhir_json import InvalidJson, dumps, loads
from ..i18n import _
from ..search.registry import default_registry
from ..storage import VERSION_SEARCHABLE
from ..storage.audit_seal import AuditKey
from ..storage.backup import MongoBackupStore, state_collections
from .identity import now
from .writing import search_fields

log = logging.getLogger(__name__)

FORMAT = "fhir-server-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
HISTORY = "history.ndjson.gz"
STATE = "state.ndjson.gz"
AUDIT_KEY = "audit.key"
_BATCH = 1000
_ATTEMPTS = 3
_HISTORY_KEYS = ("_id", "type", "id", "version", "lastUpdated", "deleted", "method", "replacedAt", "resource")


class ProgressSink(Protocol):
    """Where long commands report progress (the CLI's progress bar): items done, and `done` of `total`."""

    total: int | None

    def advance(self, items: int = 0, *, done: int | None = None) -> None: ...

    def restart(self, total: int | None) -> None:
        """Count from zero again, towards `total`."""


class BackupError(Exception):
    """The backup cannot be made, or a backup cannot be restored; the message says why."""


@dataclass
class BackupCounts:
    versions: int = 0
    resources: int = 0
    deleted: int = 0
    state: int = 0

    def to_json(self) -> dict[str, int]:
        return {"versions": self.versions, "resources": self.resources, "deleted": self.deleted, "state": self.state}


@dataclass
class BackupResult:
    folder: Path
    instant: datetime
    counts: BackupCounts
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_kept: list[str] = field(default_factory=list)
    """Collections of the database the backup does not hold and does not know (see the module docstring)."""


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _parse_instant(text: Any, where: str) -> datetime:
    if not isinstance(text, str):
        raise BackupError(_("{where}: an instant is expected.").format(where=where))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BackupError(_("{where}: '{text}' is not an instant.").format(where=where, text=text[:40])) from exc
    if moment.tzinfo is None:
        raise BackupError(_("{where}: the instant has no time zone.").format(where=where))
    return moment.astimezone(UTC)


def _file_facts(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return {"bytes": size, "sha256": digest.hexdigest()}


# --- backup -----------------------------------------------------------------------------------------


def _history_line(doc: dict[str, Any], moment: datetime) -> bytes:
    replaced = doc.get("replacedAt")
    line = {
        "_id": doc["_id"],
        "type": doc["type"],
        "id": doc["id"],
        "version": doc["version"],
        "lastUpdated": _instant(doc["lastUpdated"]),
        "deleted": doc["deleted"],
        "method": doc.get("method", "PUT"),
        "replacedAt": _instant(replaced) if replaced is not None and replaced <= moment else None,
        "resource": orjson.Fragment(doc["body"]) if doc["body"] is not None else None,
    }
    return orjson.dumps(line) + b"\n"


async def _write_history(
    store: MongoBackupStore, path: Path, moment: datetime, progress: ProgressSink | None
) -> BackupCounts:
    counts = BackupCounts()
    last_key = None
    with gzip.open(path, "wb", compresslevel=5) as out:
        async for doc in store.versions_until(moment):
            out.write(_history_line(doc, moment))
            counts.versions += 1
            key = (doc["type"], doc["id"])
            if key != last_key:
                counts.resources += 1
                counts.deleted += bool(doc["deleted"])
                last_key = key
            if progress is not None:
                progress.advance(1, done=counts.versions)
    return counts


def _write_audit_key(path: Path, key: AuditKey) -> None:
    """The key as its key file holds it (hex, one line), readable by the owner only from the start."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(key.secret.hex() + "\n")


async def backup(
    store: MongoBackupStore,
    folder: Path,
    *,
    audit_key: AuditKey,
    settle: float = 2.0,
    progress: ProgressSink | None = None,
) -> BackupResult:
    """Write a backup of everything stored up to now, and the audit key its log is sealed under, into `folder`
    (new or empty). See the module docstring."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise BackupError(_("{folder} is not empty; a backup goes into a new or empty folder.").format(folder=folder))
    moment = now()
    await asyncio.sleep(settle)
    history = folder / HISTORY
    for _attempt in range(_ATTEMPTS):
        expected = await store.count_versions_until(moment)
        if progress is not None:
            progress.restart(expected)
        counts = await _write_history(store, history, moment, progress)
        if counts.versions == expected == await store.count_versions_until(moment):
            break
        log.warning("a write committed late during the backup; reading again", extra={"instant": _instant(moment)})
    else:
        history.unlink(missing_ok=True)
        raise BackupError(_("Writes kept committing into the backup instant; try again."))
    with gzip.open(folder / STATE, "wb", compresslevel=5) as out:
        async for name, doc in store.state(moment):
            out.write(orjson.dumps({"collection": name, "document": doc}) + b"\n")
            counts.state += 1
    files = {HISTORY: {**_file_facts(history), "lines": counts.versions}}
    files[STATE] = {**_file_facts(folder / STATE), "lines": counts.state}
    _write_audit_key(folder / AUDIT_KEY, audit_key)
    files[AUDIT_KEY] = _file_facts(folder / AUDIT_KEY)
    manifest = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "server": f"fhir-server {__version__}",
        "instant": _instant(moment),
        "createdAt": _instant(now()),
        "counts": counts.to_json(),
        "files": files,
    }
    partial = folder / (MANIFEST + ".partial")
    partial.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(partial, folder / MANIFEST)
    return BackupResult(folder, moment, counts, files, await store.not_kept())


# --- verification -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """One history line, checked."""

    key: tuple[str, str]
    doc: dict[str, Any]
    resource: dict[str, Any] | None


def _gzip_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of a gzip file, read to its end; BackupError if the stream is damaged."""
    number = 0
    try:
        with gzip.open(path, "rb") as file:
            for number, line in enumerate(file, start=1):  # noqa: B007 - used after the loop on error
                yield number, line
    except (OSError, EOFError, zlib.error) as exc:
        raise BackupError(
            _("{file} is damaged after line {line}: {error}").format(file=path.name, line=number, error=exc)
        ) from exc


def _version(number: int, line: bytes) -> Version:
    where = f"{HISTORY}:{number}"
    try:
        raw = loads(line)
    except InvalidJson as exc:
        raise BackupError(_("{where}: not JSON ({error}).").format(where=where, error=exc)) from exc
    if not isinstance(raw, dict) or set(raw) != set(_HISTORY_KEYS):
        raise BackupError(_("{where}: not a version record.").format(where=where))
    kind, ident, number_ = raw["type"], raw["id"], raw["version"]
    if not (isinstance(kind, str) and isinstance(ident, str) and isinstance(number_, int)):
        raise BackupError(_("{where}: type, id and version are wrong.").format(where=where))
    if (
        raw["_id"] != f"{kind}/{ident}/{number_}"
        or not isinstance(raw["deleted"], bool)
        or not isinstance(raw["method"], str)
    ):
        raise BackupError(_("{where}: not a version record.").format(where=where))
    resource = raw["resource"]
    if raw["deleted"] != (resource is None) or (resource is not None and not isinstance(resource, dict)):
        raise BackupError(_("{where}: the resource does not match the deleted flag.").format(where=where))
    doc: dict[str, Any] = {
        "_id": raw["_id"],
        "type": kind,
        "id": ident,
        "version": number_,
        "lastUpdated": _parse_instant(raw["lastUpdated"], where),
        "deleted": raw["deleted"],
        "body": None if resource is None else dumps(resource),
        "method": raw["method"],
    }
    if raw["replacedAt"] is not None:
        _parse_instant(raw["replacedAt"], where)  # checked; not stored: the next version's instant tells
    return Version((kind, ident), doc, resource)


def _versions(folder: Path) -> Iterator[Version]:
    for number, line in _gzip_lines(folder / HISTORY):
        yield _version(number, line)


def _state(folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, line in _gzip_lines(folder / STATE):
        where = f"{STATE}:{number}"
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BackupError(_("{where}: not JSON ({error}).").format(where=where, error=exc)) from exc
        if (
            not isinstance(raw, dict)
            or raw.get("collection") not in state_collections()
            or not isinstance(raw.get("document"), dict)
        ):
            raise BackupError(_("{where}: not a state record.").format(where=where))
        yield raw["collection"], raw["document"]


def verify_backup(folder: Path, progress: ProgressSink | None = None) -> dict[str, Any]:
    """Check a backup completely without touching any database; return its manifest or raise BackupError."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(_("{folder} holds no {manifest}: not a (finished) backup.").format(
            folder=folder, manifest=MANIFEST))  # fmt: skip
    try:
        manifest = orjson.loads(manifest_path.read_bytes())
        if manifest.get("format") != FORMAT or manifest.get("formatVersion") != FORMAT_VERSION:
            raise BackupError(_("{manifest} is not a backup of format {format} {version}.").format(
                manifest=MANIFEST, format=FORMAT, version=FORMAT_VERSION))  # fmt: skip
        files, counts = manifest["files"], manifest["counts"]
        _parse_instant(manifest["instant"], MANIFEST)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(_("{manifest} cannot be read.").format(manifest=MANIFEST)) from exc
    kept_key = isinstance(files, dict) and AUDIT_KEY in files
    for name in (HISTORY, STATE, AUDIT_KEY) if kept_key else (HISTORY, STATE):
        expected = files.get(name) if isinstance(files, dict) else None
        if not isinstance(expected, dict):
            raise BackupError(_("{manifest} does not list {file}.").format(manifest=MANIFEST, file=name))
        path = folder / name
        if not path.is_file():
            raise BackupError(_("{file} is missing.").format(file=name))
        facts = _file_facts(path)
        if facts["bytes"] != expected.get("bytes"):
            raise BackupError(_("{file} has {size} bytes, the manifest says {expected}: it is truncated or changed.")
                              .format(file=name, size=facts["bytes"], expected=expected.get("bytes")))  # fmt: skip
        if facts["sha256"] != expected.get("sha256"):
            raise BackupError(_("{file} does not match its sha256 in the manifest: it is damaged or changed.").format(
                file=name))  # fmt: skip
    found = BackupCounts()
    last: tuple[str, str, int] | None = None
    for version in _versions(folder):
        order = (*version.key, -version.doc["version"])
        if last is not None and order <= last:
            raise BackupError(_("{file}:{line}: versions are out of order.").format(
                file=HISTORY, line=found.versions + 1))  # fmt: skip
        if last is None or version.key != last[:2]:
            found.resources += 1
            found.deleted += version.doc["deleted"]
        last = order
        found.versions += 1
        if progress is not None:
            progress.advance(1, done=found.versions)
    found.state = sum(1 for _item in _state(folder))
    if found.to_json() != counts or files[HISTORY].get("lines") != found.versions:
        raise BackupError(_("The backup holds {found}, its manifest says {expected}.").format(
            found=found.to_json(), expected=counts))  # fmt: skip
    return dict(manifest)


# --- restore ----------------------------------------------------------------------------------------


def audit_key_file(folder: Path) -> Path | None:
    """The audit key file of the (verified) backup in `folder`; None for a backup made before keys were kept."""
    manifest = orjson.loads((folder / MANIFEST).read_bytes())
    return folder / AUDIT_KEY if AUDIT_KEY in manifest["files"] else None


async def _register_search_parameters(folder: Path) -> int:
    """Register the backup's current SearchParameters, so restored resources are indexed for them too."""
    registry = default_registry()
    registered = 0
    last_key = None
    for version in _versions(folder):
        if version.key[0] != "SearchParameter" or version.key == last_key:
            continue
        last_key = version.key
        resource = version.resource
        if resource is None or resource.get("status") == "retired":
            continue
        try:
            registry.register(resource, defined_at=version.doc["lastUpdated"])
            registered += 1
        except FhirError as exc:
            log.warning("stored SearchParameter not usable", extra={"id": version.key[1], "reason": str(exc)})
    return registered


def _with_compartments(versions: Iterator[Version]) -> Iterator[tuple[Version, dict[str, Any]]]:
    """The versions, each doc given its patient compartments and search entries (what patient-scoped and
    granular history filter on); a deletion those of the version it deleted, which is the next line
    (lines run newest first), so a deletion waits for it. Each comes with its search fields (extracted
    once: the current resource reuses them)."""
    waiting: list[Version] = []
    for version in versions:
        if waiting and waiting[0].key != version.key:
            yield from ((deletion, search_fields(None)) for deletion in waiting)  # a deletion of the first version
            waiting = []
        if version.resource is None:
            version.doc.update(compartments=[], idx=[], **VERSION_SEARCHABLE)
            waiting.append(version)
            continue
        fields = search_fields(version.resource)
        version.doc.update(compartments=fields["compartments"], idx=fields["idx"], **VERSION_SEARCHABLE)
        for deletion in waiting:
            deletion.doc.update(compartments=fields["compartments"], idx=fields["idx"])
        yield from ((deletion, search_fields(None)) for deletion in waiting)
        waiting = []
        yield version, fields
    yield from ((deletion, search_fields(None)) for deletion in waiting)


def _current(version: Version, fields: dict[str, Any]) -> dict[str, Any]:
    """The current-resource document of `version` (the newest of its resource), with its search `fields`."""
    doc = {k: v for k, v in version.doc.items() if k not in VERSION_SEARCHABLE}
    doc["_id"] = f"{version.key[0]}/{version.key[1]}"
    return {**doc, **fields, "compartments": version.doc["compartments"]}


def _batched(items: Iterator[Any], size: int = _BATCH) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def restore(store: MongoBackupStore, folder: Path, *, progress: ProgressSink | None = None) -> BackupCounts:
    """Verify the backup in `folder`, then load it into the (empty) database. Raises BackupError, writing nothing."""
    manifest = verify_backup(folder)
    if not await store.is_empty():
        raise BackupError(_("The target database is not empty; restore only into an empty database."))
    if progress is not None:
        progress.total = int(manifest["counts"]["versions"])
    await _register_search_parameters(folder)
    counts = BackupCounts()
    last_key = None
    versions: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    for version, fields in _with_compartments(_versions(folder)):
        versions.append(version.doc)
        if version.key != last_key:
            current.append(_current(version, fields))
            last_key = version.key
            counts.resources += 1
            counts.deleted += version.doc["deleted"]
        if len(versions) >= _BATCH:
            await store.insert_versions(versions)
            await store.insert_current(current)
            counts.versions += len(versions)
            if progress is not None:
                progress.advance(len(versions), done=counts.versions)
            versions, current = [], []
    await store.insert_versions(versions)
    await store.insert_current(current)
    counts.versions += len(versions)
    if progress is not None:
        progress.advance(len(versions), done=counts.versions)
    for batch in _batched(_state(folder)):
        await store.insert_state(batch)
        counts.state += len(batch)
    await store.drop_sealed_waiting()
    return counts
