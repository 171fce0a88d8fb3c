"""Bulk Data `$export` as a resumable background job. https://hl7.org/fhir/uv/bulkdata/STU2/export.html

The kick-off checks the parameters and queues a job; a worker in any server process claims it
with a lease (storage/jobs.py) and walks each requested type in id order, 1,000 resources a
page, appending the stored JSON bodies as NDJSON lines to chunks of the job's files in the
database (storage/files.py). One file per type, cut into several of at most `MAX_FILE_LINES`.

After every chunk the worker saves its cursor (type, last id, file, chunk number, lines in the
file, finished files). A worker that dies leaves a job whose lease expires; the next worker
deletes whatever chunks were written after the saved cursor and continues from it, so no line
is written twice or lost. The export sees the data as of `transactionTime`, the kick-off: only
versions updated at or before it are included.

Access is decided at the kick-off and frozen into the job (the worker runs as the system):
system level needs `system/` scopes (without a query) reading each type; patient and group level
need `r` on each type, and a `patient/` scope confines them to the patient in context. A type read
only through granular scopes (`patient/Observation.rs?category=...`) is exported where it matches
one of their queries: the queries are frozen into the job and compiled like `_typeFilter`s. Types named in
`_type` that the token may not export are a 403; types it did not name are left out. The job
remembers the client that started it: only that client may poll, cancel and download.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import profiles

from ..auth.policy import AccessPolicy
from ..errors import FhirError, Forbidden, InvalidRequest
from ..i18n import _
from ..search.dates import parse_date_range
from ..search.plan import plan_filter
from ..search.registry import SearchRegistry, default_registry
from ..search.request import parse_search_request
from ..storage import CurrentQuery, ResourceStore
from ..storage.files import CHUNK_BYTES, MongoFileStore
from ..storage.jobs import CANCELLED, Job, MongoJobStore
from .access import plain_reaches
from .bulk_jobs import EXPORT, IMPORT
from .identity import check_id, now
from .job_worker import IDLE_POLL, work_on_jobs
from .read import read_resource
from .search import _Planner
from .system_search import parse_type_list

log = logging.getLogger(__name__)

PAGE = 1000
MAX_FILE_LINES = 50_000
LEASE = timedelta(seconds=60)
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
SYSTEM, PATIENT, GROUP = "system", "patient", "group"
IGNORED_PARAMETERS = ("_format", "_pretty")

_NEXT_FILTER = re.compile(r",(?=[A-Z][A-Za-z]*\?)")
"""Several `_typeFilter` values may share one parameter, separated by commas before `Type?`."""


@dataclass(frozen=True)
class ExportRequest:
    """What a kick-off asks for. `patients`: the compartments to export (None: every patient's)."""

    level: str
    types: tuple[str, ...]
    since: datetime | None
    type_filters: tuple[tuple[str, str], ...]
    patients: tuple[str, ...] | None
    group_id: str | None = None
    explicit_types: bool = False


def compartment_types(registry: SearchRegistry | None = None) -> tuple[str, ...]:
    """The types that may be in a patient's compartment (Patient itself included)."""
    registry = registry or default_registry()
    return tuple(t for t in profiles.RESOURCE_TYPES if t == "Patient" or registry.compartment_parameters(t))


def _patient_reference(raw: str, parameter: str) -> str:
    value = raw.strip()
    if "/" in value and not value.startswith("Patient/"):
        raise InvalidRequest(_("'{value}' is not a Patient reference.").format(value=value[:80]), expression=parameter)
    return check_id(value.removeprefix("Patient/"), parameter)


def _type_filters(values: Sequence[str], registry: SearchRegistry) -> list[tuple[str, str]]:
    filters = []
    for raw in values:
        for item in _NEXT_FILTER.split(raw):
            resource_type, sep, query = item.strip().partition("?")
            if not sep or not resource_type:
                raise InvalidRequest(
                    _("'{value}' is not a valid _typeFilter: use Type?search-parameters.").format(value=item[:80]),
                    expression="_typeFilter",
                )
            parse_type_list([resource_type], "_typeFilter")
            # Strict: a filter the server cannot apply would export too much.
            parse_search_request(
                resource_type, parse_qsl(query, keep_blank_values=True), registry,
                default_count=1, max_count=1, strict=True,
            )  # fmt: skip
            filters.append((resource_type, query))
    return filters


def parse_export_request(
    level: str,
    query: Sequence[tuple[str, str]],
    *,
    lenient: bool,
    group_id: str | None = None,
    registry: SearchRegistry | None = None,
) -> ExportRequest:
    """Read the kick-off parameters; InvalidRequest (400) for bad values or (unless `lenient`) unknown ones."""
    registry = registry or default_registry()
    since: datetime | None = None
    type_values: list[str] = []
    filter_values: list[str] = []
    patients: list[str] = []
    unknown: list[str] = []
    for name, raw in query:
        if name in IGNORED_PARAMETERS:
            continue
        if name == "_outputFormat":
            if raw.strip() not in OUTPUT_FORMATS:
                raise InvalidRequest(
                    _("'{value}' is not a supported _outputFormat; use one of {allowed}.").format(
                        value=raw[:80], allowed=", ".join(OUTPUT_FORMATS)
                    ),
                    expression="_outputFormat",
                )
        elif name == "_since":
            since = parse_date_range(raw, "_since").low
        elif name == "_type":
            type_values.append(raw)
        elif name == "_typeFilter":
            filter_values.append(raw)
        elif name == "patient" and level != SYSTEM:
            patients += [_patient_reference(value, "patient") for value in raw.split(",") if value.strip()]
        else:
            unknown.append(name)
    if unknown and not lenient:
        raise InvalidRequest(
            _("Unknown or unsupported $export parameters: {names}. Send 'Prefer: handling=lenient' to ignore them.")
            .format(names=", ".join(sorted(set(unknown)))),
            expression=unknown[0],
        )  # fmt: skip
    requested = parse_type_list(type_values) if type_values else ()
    if type_values and not requested:
        raise InvalidRequest(_("'_type' names no resource type."), expression="_type")
    filters = _type_filters(filter_values, registry)
    if requested:
        for resource_type, _query in filters:
            if resource_type not in requested:
                raise InvalidRequest(
                    _("_typeFilter names {type}, which is not in _type.").format(type=resource_type),
                    expression="_typeFilter",
                )
    default = profiles.RESOURCE_TYPES if level == SYSTEM else compartment_types(registry)
    types = requested or tuple(default)
    patients_asked = tuple(dict.fromkeys(patients)) or None
    return ExportRequest(level, types, since, tuple(filters), patients_asked, group_id, bool(requested))


def group_members(group: dict[str, Any]) -> list[str]:
    """The ids of the Patients a Group lists as members."""
    ids = []
    for member in group.get("member") or []:
        reference = str(((member or {}).get("entity") or {}).get("reference") or "")
        resource_type, _sep, resource_id = reference.rpartition("/")
        if resource_type.rpartition("/")[2] == "Patient" and resource_id:
            ids.append(resource_id)
    return list(dict.fromkeys(ids))


def _exportable(policy: AccessPolicy, request: ExportRequest, resource_type: str) -> bool:
    try:
        if request.level == SYSTEM:
            policy.require_system("r", resource_type)
        else:
            policy.require("r", resource_type)
    except Forbidden:
        if request.explicit_types:
            raise
        return False
    return bool(policy.reaches("r", resource_type))


def _access_filters(policy: AccessPolicy, types: Sequence[str]) -> list[list[Any]]:
    """For each type read only through granular scopes, the queries (OR) its resources must match."""
    filters: list[list[Any]] = []
    for resource_type in types:
        if not plain_reaches(policy, "r", resource_type):
            queries = [[list(pair) for pair in reach.query] for reach in policy.reaches("r", resource_type)]
            filters.append([resource_type, queries])
    return filters


def _allowed(policy: AccessPolicy, request: ExportRequest) -> tuple[list[str], str | None]:
    """The types `policy` lets the caller export, and the patient compartment it confines them to (if any).

    Raises Forbidden (403) for a type named in `_type` that may not be exported, or when none may.
    """
    types = [t for t in request.types if _exportable(policy, request, t)]
    if not types:
        if request.level == SYSTEM:
            policy.require_system("r")
        raise Forbidden(_("This token may export none of the requested resource types."))
    context = policy.patient_compartment
    confined = context is not None and any(r.compartment == context for t in types for r in policy.reaches("r", t))
    return types, context if confined else None


async def start_export(
    store: ResourceStore, policy: AccessPolicy, jobs: MongoJobStore, request: ExportRequest, request_url: str
) -> Job:
    """Queue the export (the Group's members are taken now); its `transactionTime` is this moment.

    Raises Forbidden (403) when the policy does not allow the export (see the module text).
    """
    types, confined = _allowed(policy, request)
    patients: list[str] | None = list(request.patients) if request.patients is not None else None
    if request.level == GROUP:
        assert request.group_id is not None
        members = group_members((await read_resource(store, policy, "Group", request.group_id)).resource())
        patients = members if patients is None else [p for p in patients if p in set(members)]
    if confined is not None:
        own = confined.removeprefix("Patient/")
        if patients is not None and any(p != own for p in patients) and request.level == PATIENT:
            raise Forbidden(_("This token may only export the record of the patient in context."))
        patients = [own] if patients is None or own in patients else []
    moment = now()
    params = {
        "level": request.level,
        "client": policy.client_id,
        "types": types,
        "since": request.since,
        "typeFilters": [list(f) for f in request.type_filters],
        "accessFilters": _access_filters(policy, types),
        "compartments": None if patients is None else [f"Patient/{p}" for p in patients],
        "transactionTime": moment,
        "request": request_url,
    }
    return await jobs.create(EXPORT, params, moment)


def file_name(resource_type: str, number: int) -> str:
    return f"{resource_type}-{number}.ndjson"


async def _one_of(
    planner: _Planner, resource_type: str, queries: Sequence[Sequence[tuple[str, str]]]
) -> list[dict[str, Any]] | None:
    """Clauses for "matches one of `queries`" ([]: no queries; None: none of them can match this type)."""
    alternatives = []
    for query in queries:
        try:
            parsed = parse_search_request(
                resource_type, query, planner.registry, default_count=1, max_count=1, strict=True
            )
        except InvalidRequest:
            continue  # checked at the kick-off for _typeFilter; a scope query this type cannot answer grants nothing
        alternatives.append(await planner.clauses(resource_type, parsed.filters))
    if not alternatives:
        return [] if not queries else None
    if len(alternatives) == 1:
        return alternatives[0]
    return [{"$or": [plan_filter(resource_type, alternative).criteria or {"_id": {"$exists": True}}
                     for alternative in alternatives]}]  # fmt: skip


async def _type_query(planner: _Planner, resource_type: str, params: dict[str, Any]) -> CurrentQuery | None:
    """The storage query for one type's share of the export (None: nothing can match)."""
    moment: datetime = params["transactionTime"]
    updated: dict[str, Any] = {"$lte": moment}
    if params.get("since") is not None:
        updated["$gte"] = params["since"]
    clauses: list[dict[str, Any]] = [{"lastUpdated": updated}]
    if params["level"] != SYSTEM:
        compartments = params.get("compartments")
        if compartments is None:
            clauses.append({"compartments.0": {"$exists": True}})
        elif not compartments:
            return None
        else:
            clauses.append({"compartments": {"$in": compartments}})
    filters = [query for filter_type, query in params.get("typeFilters") or [] if filter_type == resource_type]
    typed = await _one_of(planner, resource_type, [parse_qsl(query, keep_blank_values=True) for query in filters])
    if typed is None:
        return None
    clauses += typed
    for access_type, queries in params.get("accessFilters") or []:
        if access_type == resource_type:  # the token's granular scopes: one of their queries must match
            found = await _one_of(planner, resource_type, [[tuple(pair) for pair in query] for query in queries])
            if found is None:
                return None
            clauses += found
    plan = plan_filter(resource_type, clauses)
    criteria = dict(plan.criteria)
    # Keys are "Type/id": bound them to this type so the walk in id order runs on the _id index.
    present = criteria.get("_id")
    bounds = {"$gte": f"{resource_type}/", "$lt": f"{resource_type}0"}
    criteria["_id"] = {**(present if isinstance(present, dict) else {} if present is None else {"$eq": present}),
                       **bounds}  # fmt: skip
    return CurrentQuery(resource_type, criteria, driver=plan.driver)


class _Lost(Exception):
    """The job is no longer this worker's (cancelled, or its lease was taken over)."""


class _Writer:
    """Appends NDJSON lines to the job's files, saving the cursor with every chunk it stores."""

    def __init__(self, files: MongoFileStore, jobs: MongoJobStore, job: Job, worker: str, max_lines: int) -> None:
        self.files, self.jobs, self.job, self.worker, self.max_lines = files, jobs, job, worker, max_lines
        cursor = job.cursor
        self.position: int = cursor.get("type", 0)
        self.after: str | None = cursor.get("after")
        self.number: int = cursor.get("file", 1)
        self.seq: int = cursor.get("seq", 0)
        self.count: int = cursor.get("count", 0)
        self.outputs: list[dict[str, Any]] = list(cursor.get("outputs", []))
        self.parts: list[bytes] = []
        self.size = 0

    def current(self, types: Sequence[str]) -> str | None:
        return file_name(types[self.position], self.number) if self.position < len(types) else None

    async def save(self, types: Sequence[str]) -> None:
        self.job.cursor = {"type": self.position, "after": self.after, "file": self.number, "seq": self.seq,
                           "count": self.count, "outputs": self.outputs}  # fmt: skip
        if not await self.jobs.progress(self.job, self.worker, now(), LEASE):
            raise _Lost

    async def flush(self, types: Sequence[str], last_id: str) -> None:
        """Store the buffered lines as the next chunk; the cursor moves past `last_id`."""
        if self.parts:
            name = file_name(types[self.position], self.number)
            await self.files.put(self.job.id, name, self.seq, b"".join(self.parts))
            self.parts, self.size, self.seq = [], 0, self.seq + 1
        self.after = last_id

    def close_file(self, types: Sequence[str]) -> None:
        if self.count:
            resource_type = types[self.position]
            self.outputs.append({"type": resource_type, "file": file_name(resource_type, self.number),
                                 "count": self.count})  # fmt: skip
            self.number, self.seq, self.count = self.number + 1, 0, 0


async def run_export(
    store: ResourceStore,
    jobs: MongoJobStore,
    files: MongoFileStore,
    job: Job,
    worker: str,
    *,
    max_lines: int = MAX_FILE_LINES,
    page: int = PAGE,
) -> None:
    """Work on `job` from its saved cursor until it is done, cancelled or taken over."""
    params = job.params
    types: list[str] = params["types"]
    out = _Writer(files, jobs, job, worker, max_lines)
    finished = [output["file"] for output in out.outputs]
    removed = await files.truncate(job.id, finished, out.current(types), out.seq)
    if job.cursor:
        log.info("export resumed", extra={"job": job.id, "cursor_type": out.position, "chunks_removed": removed})
    planner = _Planner(store, AccessPolicy.system("export"), default_registry(), now(), None)
    query, query_position = None, -1
    try:
        while out.position < len(types):
            if query_position != out.position:  # chains and _has in _typeFilter are resolved once per type
                query, query_position = await _type_query(planner, types[out.position], params), out.position
            records = await store.find(replace(query, after=out.after), page) if query is not None else []
            for record in records:
                if record.body is None:
                    continue
                out.parts += (record.body, b"\n")
                out.size += len(record.body) + 1
                out.count += 1
                job.done += 1
                if out.count >= max_lines or out.size >= CHUNK_BYTES:
                    await out.flush(types, record.id)
                    if out.count >= max_lines:
                        out.close_file(types)
                    await out.save(types)
            if records:
                await out.flush(types, records[-1].id)
            if len(records) < page:
                out.close_file(types)
                out.position, out.after, out.number, out.seq, out.count = out.position + 1, None, 1, 0, 0
            await out.save(types)
    except _Lost:
        await _after_loss(jobs, files, job)
        return
    job.total = job.done
    if not await jobs.finish_running(job, worker, now()):
        await _after_loss(jobs, files, job)
        return
    log.info("export finished", extra={"job": job.id, "resources": job.done, "files": len(out.outputs)})


async def _after_loss(jobs: MongoJobStore, files: MongoFileStore, job: Job) -> None:
    current = await jobs.get(job.id)
    if current is None or current.status == CANCELLED:
        await files.delete_job(job.id)
        log.info("export cancelled", extra={"job": job.id})
    else:
        log.warning("export job taken over by another worker", extra={"job": job.id})


def failure_text(exc: Exception) -> str:
    """What a client may read about a job's failure: a FhirError's text, else nothing internal."""
    if isinstance(exc, FhirError):
        return str(exc)
    return _("The job failed because of a server error; the server log has the details.")


async def purge_expired(jobs: MongoJobStore, files: MongoFileStore, kinds: list[str], ttl: timedelta) -> int:
    """Remove the jobs (and their files) that ended more than `ttl` ago, and files whose job is gone."""
    removed = 0
    while True:
        expired = await jobs.ended_before(kinds, now() - ttl)
        for job in expired:
            await files.delete_job(job.id)
            await jobs.delete(job.id)
        removed += len(expired)
        if len(expired) < 100:
            break
    for job_id in await files.jobs():
        if await jobs.get(job_id) is None:
            await files.delete_job(job_id)
    return removed


def is_expired(job: Job, ttl: timedelta) -> bool:
    return job.finished is not None and job.finished + ttl < now()


async def export_worker(
    store: ResourceStore, jobs: MongoJobStore, files: MongoFileStore, ttl: timedelta, poll: float = IDLE_POLL
) -> None:
    """Forever: claim a queued or abandoned export and run it; now and then purge expired bulk jobs."""

    async def run(job: Job, worker: str) -> None:
        await run_export(store, jobs, files, job, worker)

    await work_on_jobs(
        EXPORT, jobs, run, lease=LEASE, poll=poll, failure_text=failure_text,
        housekeeping=lambda: purge_expired(jobs, files, [EXPORT, IMPORT], ttl),
        housekeeping_every=min(ttl.total_seconds(), 60.0),
    )  # fmt: skip
