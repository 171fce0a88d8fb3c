"""Patient $everything. https://hl7.org/fhir/R4/patient-operation-everything.html

The patient and every resource in its compartment come from one indexed query over all
types (each stored resource carries its patient compartments), in key order ("Type/id"), so
pages are cut by keyset and stay stable while others write. For each page the resources
its matches refer to that belong to no patient (Practitioner, Organization, Location,
Medication, a Device without a patient ...) are added once, one level deep, as `include`
entries, like `_include` results are: paged with the matches they were found for.

Parameters: `_since` (only resources updated at or after it), `_type` (only these types,
for matches and referenced resources alike), `_count` (page size); at type level also
`patient` and `_id` (repeated or comma-separated ids; none: every patient). `start` and
`end` (care dates) are not supported: they are unknown parameters (ignored, or 400 with
`Prefer: handling=strict`).

Access: only the types the caller may read (`r`) are returned, those it may read only through
granular scopes (`patient/Observation.rs?category=...`) only where they match a scope's query
(compiled like a search's, ANDed into the one query per type). When a `patient/` scope confines
any of them, the operation is confined to the patient in context: type level means that
patient, and another patient is not found (404).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ..auth.policy import AccessPolicy
from ..errors import Forbidden, InvalidRequest, Issue, ResourceNotFound
from ..i18n import _
from ..search.dates import parse_date_range
from ..search.plan import plan_filter
from ..search.request import parse_count, refuse_unknown
from ..storage import CurrentQuery, ResourceStore, StoredResource
from .access import plain_reaches
from .bulk_export import compartment_types
from .identity import check_id
from .read import read_resource
from .results import Page
from .search import MAX_INCLUDES, SearchResult, access_filter, planned_query
from .system_search import parse_type_list

IGNORED_PARAMETERS = ("_format", "_pretty")


@dataclass(frozen=True)
class EverythingRequest:
    """What $everything asks for. `patients` None means every patient (type level, no ids given)."""

    patients: tuple[str, ...] | None
    since: datetime | None
    types: tuple[str, ...] | None
    count: int
    cursor: str | None
    echoed: tuple[tuple[str, str], ...]
    """The parameters that took effect, as sent, for the self link."""


def _patient_ids(raw: str, parameter: str) -> list[str]:
    ids = []
    for value in raw.split(","):
        value = value.strip()
        if value.startswith("Patient/"):
            value = value.removeprefix("Patient/")
        elif "/" in value:
            raise InvalidRequest(
                _("'{value}' is not a Patient reference.").format(value=value[:80]), expression=parameter
            )
        if value:
            ids.append(check_id(value, parameter))
    return ids


def parse_everything_request(
    patient_id: str | None,
    query: Sequence[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
    strict: bool,
) -> EverythingRequest:
    """Read the operation's parameters (`patient_id`: the instance, None at type level); 400 for bad values."""
    since: datetime | None = None
    type_values: list[str] = []
    count, cursor = default_count, None
    ids: list[str] = []
    echoed: list[tuple[str, str]] = []
    unknown: list[str] = []
    for name, raw in query:
        if name in IGNORED_PARAMETERS:
            continue
        if name == "_cursor":
            cursor = raw
            continue
        if name == "_since":
            since = parse_date_range(raw, "_since").low
        elif name == "_type":
            type_values.append(raw)
        elif name == "_count":
            count = parse_count(raw, default_count, max_count)
        elif name in ("patient", "_id") and patient_id is None:
            ids += _patient_ids(raw, name)
        else:
            unknown.append(name)
            continue
        echoed.append((name, raw))
    refuse_unknown(unknown, strict, "$everything")
    types = parse_type_list(type_values) if type_values else None
    if type_values and not types:
        raise InvalidRequest(_("'_type' names no resource type."), expression="_type")
    if patient_id is not None:
        patients: tuple[str, ...] | None = (check_id(patient_id),)
    else:
        patients = tuple(dict.fromkeys(ids)) or None
    return EverythingRequest(patients, since, types, count, cursor, tuple(echoed))


def _local_non_patient(reference: str) -> bool:
    """A plain local reference ("Type/id"), not to a Patient (those are only returned as matches)."""
    resource_type, _sep, resource_id = reference.partition("/")
    return bool(resource_id) and "/" not in resource_id and resource_type != "Patient"


async def _referenced(
    store: ResourceStore,
    policy: AccessPolicy,
    request: EverythingRequest,
    records: list[StoredResource],
) -> tuple[list[StoredResource], bool]:
    """The resources `records` refer to that are in no patient's compartment (one level), and whether more were cut."""
    on_page = {record.reference for record in records}
    by_type: dict[str, list[str]] = {}
    for record in records:
        by_type.setdefault(record.resource_type, []).append(record.id)
    targets: dict[str, list[str]] = {}
    for resource_type, ids in by_type.items():
        references = await store.references_of(CurrentQuery(resource_type, {}, ids=tuple(ids)), None, MAX_INCLUDES + 1)
        for reference in references:
            if reference in on_page or not _local_non_patient(reference):
                continue
            target_type, _sep, target_id = reference.partition("/")
            if (request.types is None or target_type in request.types) and policy.allows("r", target_type):
                targets.setdefault(target_type, []).append(target_id)
    found: list[StoredResource] = []
    for target_type, target_ids in targets.items():
        clauses: list[dict[str, Any]] = [{"compartments": []}]  # belongs to no patient
        if request.since is not None:
            clauses.append({"lastUpdated": {"$gte": request.since}})
        if not plain_reaches(policy, "r", target_type):
            clauses += await access_filter(store, policy, "r", target_type)
        query = planned_query(target_type, clauses)
        query = CurrentQuery(target_type, query.criteria, ids=tuple(dict.fromkeys(target_ids)))
        found += await store.find(query, MAX_INCLUDES + 1)
        if len(found) > MAX_INCLUDES:
            return found[:MAX_INCLUDES], True
    return found, False


def _confined(policy: AccessPolicy, request: EverythingRequest) -> EverythingRequest:
    """`request` cut down to the types the policy lets the caller read and, under a `patient/` scope,
    to the patient in context. Raises Forbidden (403) when no type is left."""
    asked = request.types or compartment_types()
    readable = [t for t in asked if policy.reaches("r", t)]
    if not readable:
        raise Forbidden(_("This token may read none of the resource types $everything returns."))
    patients = request.patients
    context = policy.patient_compartment
    if context is not None and any(r.compartment == context for t in readable for r in policy.reaches("r", t)):
        own = context.removeprefix("Patient/")
        if patients is not None and set(patients) != {own}:
            raise ResourceNotFound(_("Only the record of the patient in context is available to this token."))
        patients = (own,)
    types = None if request.types is None and len(readable) == len(asked) else tuple(readable)
    return replace(request, patients=patients, types=types)


async def _granular(store: ResourceStore, policy: AccessPolicy, types: Sequence[str]) -> dict[str, Any] | None:
    """A filter keeping, of the types read only through granular scopes, what matches their queries (None: none)."""
    limited = [t for t in types if not plain_reaches(policy, "r", t)]
    if not limited:
        return None
    free = [t for t in types if t not in limited]
    alternatives: list[dict[str, Any]] = [{"type": {"$in": free}}] if free else []
    for resource_type in limited:
        clauses = await access_filter(store, policy, "r", resource_type)
        alternatives.append(plan_filter(resource_type, [{"type": resource_type}, *clauses]).criteria)
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


async def everything(store: ResourceStore, policy: AccessPolicy, request: EverythingRequest) -> SearchResult:
    """One page of the patients' records, with the total. Raises ResourceNotFound (404) or ResourceDeleted (410)
    for a patient named that does not exist, was deleted or is not the caller's to read, Forbidden (403)."""
    request = _confined(policy, request)
    criteria = await _granular(store, policy, request.types or compartment_types())
    compartments: list[str] | None = None
    if request.patients is not None:
        for patient_id in request.patients:
            await read_resource(store, policy, "Patient", patient_id)
        compartments = [f"Patient/{patient_id}" for patient_id in request.patients]
    total = await store.count_compartment(compartments, request.types, request.since, criteria)
    if request.count == 0:
        return SearchResult(Page([], total, None), [], [])
    records = await store.find_compartment(
        compartments, request.types, request.since, request.cursor, request.count + 1, criteria
    )
    more = len(records) > request.count
    records = records[: request.count]
    next_cursor = records[-1].reference if more and records else None
    included, truncated = await _referenced(store, policy, request, records)
    warnings = []
    if truncated:
        text = _("More than {limit} resources were to be included; only the first {limit} are. Use a smaller _count.")
        warnings.append(Issue("warning", "too-costly", text.format(limit=MAX_INCLUDES)))
    return SearchResult(Page(records, total, next_cursor), included, warnings)
