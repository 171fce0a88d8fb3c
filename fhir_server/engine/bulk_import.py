"""Bulk Data `$import` as a resumable background job (the Bulk Data import draft,
https://github.com/smart-on-fhir/bulk-import/blob/master/import.md).

Input is NDJSON: files named by URL in a Parameters resource (`input` parts with `type` and
`url`), fetched with httpx as a stream, or a body uploaded with the kick-off, stored first in
the job's files (storage/files.py). Each line is written through the engine as a
create-on-update (PUT with its id), `BATCH` lines to a transaction; when a transaction fails,
its lines are written one by one so that a bad line is reported (an OperationOutcome naming
its input and line number, in the job's `errors.ndjson`) and the others are still written.

The cursor (input, lines done, error chunks, counts) is saved after every batch. A resumed job
skips the lines already done. Lines without an id get one derived from the job, the input and
the line number, so a batch written again by a resumed worker updates, never duplicates.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..auth.policy import AccessPolicy
from ..errors import FhirError, Forbidden, InvalidRequest, Issue, PayloadTooLarge, StorageUnavailable
from ..fhir_json import InvalidJson, loads
from ..i18n import _
from ..storage import ResourceStore
from ..storage.files import CHUNK_BYTES, MongoFileStore
from ..storage.jobs import CANCELLED, Job, MongoJobStore
from .bulk_export import OUTPUT_FORMATS, failure_text
from .bulk_jobs import IMPORT
from .bundle.transaction import process_transaction
from .identity import check_id, now
from .job_worker import IDLE_POLL, work_on_jobs
from .system_search import parse_type_list
from .update import update_resource

log = logging.getLogger(__name__)

BATCH = 200
LEASE = timedelta(seconds=60)
UPLOAD_FILE = "upload.ndjson"
ERROR_FILE = "errors.ndjson"
FETCH_TIMEOUT = 60.0
_IDS = uuid.UUID("6f1c0a52-3f3e-4a8e-9a53-1d1f6c6b1e01")


@dataclass(frozen=True)
class ImportInput:
    """One NDJSON source: a URL, or (url None) the body uploaded with the kick-off. `type` None: any type."""

    type: str | None
    url: str | None


def _value(part: dict[str, Any]) -> str | None:
    for key in ("valueUrl", "valueUri", "valueString", "valueCode", "valueCanonical"):
        if isinstance(part.get(key), str):
            return str(part[key])
    return None


_DEFAULT_PORTS = {"http": 80, "https": 443}


def url_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    """Whether `url` is under one of the `allowed` prefixes: same scheme and host, the same port unless
    the prefix names none, and a path starting with the prefix's path. URLs with user info are never
    allowed (`http://trusted@elsewhere/` is a host called elsewhere)."""
    target = urlsplit(url)
    if target.username is not None or target.password is not None or not target.hostname:
        return False
    for prefix in allowed:
        rule = urlsplit(prefix)
        same_origin = (rule.scheme, rule.hostname) == (target.scheme, target.hostname)
        same_port = rule.port is None or rule.port == (target.port or _DEFAULT_PORTS.get(target.scheme))
        if same_origin and same_port and (target.path or "/").startswith(rule.path or "/"):
            return True
    return False


def parse_import_parameters(body: Any, allowed_prefixes: tuple[str, ...]) -> list[ImportInput]:
    """The inputs of an import Parameters resource; InvalidRequest (400) when it is malformed.

    The server fetches each input URL itself, so only URLs under `allowed_prefixes` (the
    `import_url_prefixes` setting) are accepted: anything else could point it at internal hosts.
    """
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest(_("$import takes a Parameters resource or an NDJSON body."), expression="resourceType")
    parameters = body.get("parameter")
    if not isinstance(parameters, list):
        raise InvalidRequest(_("'parameter' must be a list."), expression="Parameters.parameter")
    inputs = []
    for position, parameter in enumerate(parameters):
        where = f"Parameters.parameter[{position}]"
        if not isinstance(parameter, dict):
            raise InvalidRequest(_("Each parameter needs a 'name'."), expression=where)
        name = parameter.get("name")
        if name == "inputFormat":
            if _value(parameter) not in OUTPUT_FORMATS:
                raise InvalidRequest(
                    _("'{value}' is not a supported inputFormat; use one of {allowed}.").format(
                        value=str(_value(parameter))[:80], allowed=", ".join(OUTPUT_FORMATS)
                    ),
                    expression=where,
                )
        elif name == "input":
            parts = {p.get("name"): _value(p) for p in parameter.get("part") or [] if isinstance(p, dict)}
            url = parts.get("url")
            if not url or not url.lower().startswith(("http://", "https://")):
                raise InvalidRequest(_("Each input needs an http(s) 'url' part."), expression=f"{where}.part")
            if not url_allowed(url, allowed_prefixes):
                raise Forbidden(
                    _("This server does not fetch {url}: importing by URL is limited to the prefixes of the "
                      "FHIR_IMPORT_URL_PREFIXES setting ({allowed}).").format(
                        url=url[:200], allowed=", ".join(allowed_prefixes) or _("none configured")
                    )
                )  # fmt: skip
            resource_type = parts.get("type")
            if resource_type:
                parse_type_list([resource_type], f"{where}.part")
            inputs.append(ImportInput(resource_type or None, url))
        elif not isinstance(name, str):
            raise InvalidRequest(_("Each parameter needs a 'name'."), expression=where)
        # other parameters of the draft (inputSource, storageDetail, mode) change nothing here
    if not inputs:
        raise InvalidRequest(_("$import needs at least one 'input'."), expression="Parameters.parameter")
    return inputs


def _params(inputs: list[ImportInput], request_url: str) -> dict[str, Any]:
    return {
        "inputs": [{"type": i.type, "url": i.url} for i in inputs],
        "transactionTime": now(),
        "request": request_url,
    }


async def start_import(jobs: MongoJobStore, inputs: list[ImportInput], request_url: str) -> Job:
    """Queue an import of NDJSON files named by URL."""
    params = _params(inputs, request_url)
    return await jobs.create(IMPORT, params, params["transactionTime"])


async def start_upload(
    jobs: MongoJobStore, files: MongoFileStore, body: AsyncIterator[bytes], request_url: str, max_bytes: int
) -> Job:
    """Store an uploaded NDJSON body in the job's files, chunk by chunk, then queue its import.

    An upload larger than `max_bytes` is refused (413) and what was stored of it removed.
    """
    params = _params([ImportInput(None, None)], request_url)
    job = await jobs.create_held(IMPORT, params, params["transactionTime"])
    parts: list[bytes] = []
    size, seq, total = 0, 0, 0
    async for piece in body:
        total += len(piece)
        if total > max_bytes:
            await files.delete_job(job.id)
            await jobs.delete(job.id)
            raise PayloadTooLarge(
                _("The upload is larger than this server accepts ({limit:,} bytes).").format(limit=max_bytes)
            )
        parts.append(piece)
        size += len(piece)
        if size >= CHUNK_BYTES:
            await files.put(job.id, UPLOAD_FILE, seq, b"".join(parts))
            parts, size, seq = [], 0, seq + 1
    if parts:
        await files.put(job.id, UPLOAD_FILE, seq, b"".join(parts))
    await jobs.release(job.id)
    return job


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    carry = b""
    async for chunk in chunks:
        *lines, carry = (carry + chunk).split(b"\n")
        for line in lines:
            yield line
    if carry:
        yield carry


async def _fetch(url: str) -> AsyncIterator[bytes]:
    import httpx  # only import jobs need it

    try:
        async with (
            httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False) as client,
            client.stream("GET", url, headers={"Accept": "application/fhir+ndjson"}) as response,
        ):
            if response.status_code != 200:
                raise _InputFailed(
                    _("Fetching {url} answered HTTP {status}.").format(url=url, status=response.status_code)
                )
            async for chunk in response.aiter_bytes():
                yield chunk
    except httpx.HTTPError as exc:
        raise _InputFailed(_("Could not fetch {url}: {error}").format(url=url, error=exc.__class__.__name__)) from exc


_POLICY = AccessPolicy.system("import", historical=True)
"""Access was checked at the kick-off (system scopes); the worker writes as the system."""


class _InputFailed(Exception):
    """A whole input could not be read."""


class _Lost(Exception):
    """The job is no longer this worker's."""


def _outcome(issues: list[Issue]) -> bytes:
    return orjson.dumps({"resourceType": "OperationOutcome", "issue": [issue.to_json() for issue in issues]})


@dataclass
class _Line:
    number: int
    resource_type: str
    resource_id: str
    resource: dict[str, Any]


class _Run:
    def __init__(self, store: ResourceStore, jobs: MongoJobStore, files: MongoFileStore, job: Job, worker: str):
        self.store, self.jobs, self.files, self.job, self.worker = store, jobs, files, job, worker
        cursor = job.cursor
        self.input: int = cursor.get("input", 0)
        self.line: int = cursor.get("line", 0)
        self.error_seq: int = cursor.get("errorSeq", 0)
        self.errors: int = cursor.get("errors", 0)
        self.counts: dict[str, dict[str, int]] = cursor.get("counts", {})
        self.pending_errors: list[bytes] = []

    def label(self) -> str:
        source = self.job.params["inputs"][self.input]
        return str(source["url"] or _("the uploaded body"))

    def error(self, number: int | None, exc: FhirError | str) -> None:
        where = self.label()
        prefix = _("{input}, line {line}").format(input=where, line=number) if number is not None else where
        if isinstance(exc, str):
            issues = [Issue("error", "exception", f"{prefix}: {exc}")]
        else:
            issues = [Issue(i.severity, i.code, f"{prefix}: {i.diagnostics}", i.expression) for i in exc.issues]
        self.pending_errors.append(_outcome(issues) + b"\n")
        self.errors += 1

    def parse(self, number: int, raw: bytes) -> _Line | None:
        source_type = self.job.params["inputs"][self.input]["type"]
        try:
            resource = loads(raw, unique_keys=True)
        except InvalidJson as exc:
            where = exc.duplicates[0][1] if exc.duplicates else None
            self.error(
                number, InvalidRequest(_("The line is not valid JSON: {error}").format(error=exc), expression=where)
            )
            return None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            self.error(number, InvalidRequest(_("The line is not a FHIR resource."), expression="resourceType"))
            return None
        resource_type = resource["resourceType"]
        try:
            parse_type_list([resource_type], "resourceType")
            if source_type and resource_type != source_type:
                raise InvalidRequest(
                    _("The line holds a {found}, but the input is declared as {type}.").format(
                        found=resource_type, type=source_type
                    ),
                    expression="resourceType",
                )
            if "id" in resource:
                resource_id = check_id(str(resource["id"]))
            else:  # stable over a resumed batch, so a line is never created twice
                resource_id = str(uuid.uuid5(_IDS, f"{self.job.id}/{self.input}/{number}"))
                resource["id"] = resource_id
        except FhirError as exc:
            self.error(number, exc)
            return None
        return _Line(number, resource_type, resource_id, resource)

    async def write(self, batch: list[_Line]) -> None:
        if not batch:
            return
        entries = [
            {"resource": line.resource, "request": {"method": "PUT", "url": f"{line.resource_type}/{line.resource_id}"}}
            for line in batch
        ]
        written = batch
        try:
            await process_transaction(self.store, _POLICY, entries, None)
        except StorageUnavailable:
            raise
        except FhirError:  # find the bad lines: write each alone
            written = []
            for line in batch:
                try:
                    await update_resource(self.store, _POLICY, line.resource_type, line.resource_id, line.resource)
                    written.append(line)
                except StorageUnavailable:
                    raise
                except FhirError as exc:
                    self.error(line.number, exc)
        counts = self.counts.setdefault(str(self.input), {})
        for line in written:
            counts[line.resource_type] = counts.get(line.resource_type, 0) + 1

    async def save(self) -> None:
        if self.pending_errors:
            await self.files.put(self.job.id, ERROR_FILE, self.error_seq, b"".join(self.pending_errors))
            self.pending_errors, self.error_seq = [], self.error_seq + 1
        self.job.cursor = {"input": self.input, "line": self.line, "errorSeq": self.error_seq,
                           "errors": self.errors, "counts": self.counts}  # fmt: skip
        if not await self.jobs.progress(self.job, self.worker, now(), LEASE):
            raise _Lost

    def source(self) -> AsyncIterator[bytes]:
        url = self.job.params["inputs"][self.input]["url"]
        return _fetch(url) if url else self.files.read(self.job.id, UPLOAD_FILE)

    async def run_input(self) -> None:
        skip, batch, number = self.line, [], 0
        async for raw in _lines(self.source()):
            number += 1
            if number <= skip:
                continue
            if raw.strip():
                parsed = self.parse(number, raw)
                if parsed is not None:
                    batch.append(parsed)
            if len(batch) >= BATCH:
                await self.write(batch)
                self.job.done += len(batch)
                batch, self.line = [], number
                await self.save()
        await self.write(batch)
        self.job.done += len(batch)
        self.line = number


async def run_import(store: ResourceStore, jobs: MongoJobStore, files: MongoFileStore, job: Job, worker: str) -> None:
    """Work on `job` from its saved cursor until it is done, cancelled or taken over."""
    run = _Run(store, jobs, files, job, worker)
    await files.truncate(job.id, [UPLOAD_FILE], ERROR_FILE, run.error_seq)
    inputs = job.params["inputs"]
    try:
        while run.input < len(inputs):
            try:
                await run.run_input()
            except _InputFailed as exc:
                run.error(None, str(exc))
            run.input, run.line = run.input + 1, 0
            await run.save()
    except _Lost:
        current = await jobs.get(job.id)
        if current is None or current.status == CANCELLED:
            await files.delete_job(job.id)
        return
    job.total = job.done
    if not await jobs.finish_running(job, worker, now()):
        await files.delete_job(job.id)
        return
    log.info("import finished", extra={"job": job.id, "lines": job.done, "errors": run.errors})


async def import_worker(
    store: ResourceStore, jobs: MongoJobStore, files: MongoFileStore, poll: float = IDLE_POLL
) -> None:
    """Forever: claim a queued or abandoned import and run it."""

    async def run(job: Job, worker: str) -> None:
        await run_import(store, jobs, files, job, worker)

    await work_on_jobs(IMPORT, jobs, run, lease=LEASE, poll=poll, failure_text=failure_text)
