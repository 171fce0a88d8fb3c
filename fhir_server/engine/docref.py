"""US Core DocumentReference $docref: the patient's document references for a period and type.

http://hl7.org/fhir/us/core/OperationDefinition/docref (US Core 6.1). This server stores
documents but does not generate them, so the operation is a search over stored
DocumentReferences:

- `patient` (required, one): the patient, by id (a "Patient/id" reference is accepted too).
  A patient that does not exist gives an empty Bundle, as the OperationDefinition says.
- `start` / `end`: care dates. A document is in range when its `context.period` overlaps
  [start, end] (a partial date stands for all of its instants: `end=2026-01` runs to the end
  of January); a document without a period is judged by its `date`. Either bound may be
  left out (open range). Documents with a period come first, then those judged by date.
- Neither `start` nor `end`: "the most recent or current document is in scope": the one
  most recent document (greatest `date`), of the given types if any.
- `type` (repeatable Coding, `system|code` in a URL): documents of any of these types.
- `profile` (repeatable canonical): documents claiming any of these profiles (`_profile`).
- `on-demand`: `false` changes nothing; `true` asks for generated documents, which this
  server does not make, so the stored documents are returned just the same.
- `_count` and paging links as for a search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from ..auth.policy import AccessPolicy
from ..errors import InvalidRequest, Issue
from ..i18n import _
from ..search.dates import parse_date_range
from ..search.registry import SearchRegistry, default_registry
from ..search.request import SearchRequest, parse_count, parse_search_request, refuse_unknown
from ..storage import ResourceStore
from .identity import check_id, format_instant
from .results import Page
from .search import SearchResult, search_type
from .system_search import search_sequence

IGNORED_PARAMETERS = ("_format", "_pretty")


@dataclass(frozen=True)
class DocrefRequest:
    patient: str
    start: str | None
    end: str | None
    types: tuple[str, ...]
    profiles: tuple[str, ...]
    on_demand: bool
    count: int
    max_count: int
    cursor: str | None
    echoed: tuple[tuple[str, str], ...]
    """The parameters that took effect, as sent, for the self link."""


def _single(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name, [])
    if len(found) > 1:
        raise InvalidRequest(_("'{name}' may be given only once.").format(name=name), expression=name)
    return found[0] if found else None


def parse_docref_request(
    query: Sequence[tuple[str, str]], *, default_count: int, max_count: int, strict: bool
) -> DocrefRequest:
    """Read the operation's parameters; raise InvalidRequest (400) for missing or malformed ones."""
    known = ("patient", "start", "end", "type", "profile", "on-demand", "_count")
    values: dict[str, list[str]] = {}
    echoed: list[tuple[str, str]] = []
    unknown: list[str] = []
    cursor = None
    for name, raw in query:
        if name in IGNORED_PARAMETERS:
            continue
        if name == "_cursor":
            cursor = raw
        elif name in known:
            values.setdefault(name, []).append(raw)
            echoed.append((name, raw))
        else:
            unknown.append(name)
    refuse_unknown(unknown, strict, "$docref")
    patient = _single(values, "patient")
    if not patient:
        raise InvalidRequest(_("$docref needs the parameter 'patient'."), expression="patient")
    patient = check_id(patient.removeprefix("Patient/"), "patient")
    start, end = _single(values, "start"), _single(values, "end")
    low = parse_date_range(start, "start").low if start is not None else None
    high = parse_date_range(end, "end").high if end is not None else None
    if low is not None and high is not None and low >= high:
        raise InvalidRequest(_("'start' must come before 'end'."), expression="start")
    on_demand = _single(values, "on-demand")
    if on_demand not in (None, "true", "false"):
        raise InvalidRequest(
            _("'{value}' is not a valid value for '{parameter}': use one of {allowed}.").format(
                value=on_demand[:40], parameter="on-demand", allowed="true, false"
            ),
            expression="on-demand",
        )
    count_raw = _single(values, "_count")
    count = parse_count(count_raw, default_count, max_count) if count_raw is not None else default_count
    return DocrefRequest(
        patient=patient,
        start=start,
        end=end,
        types=tuple(v for raw in values.get("type", []) for v in [raw.strip()] if v),
        profiles=tuple(v for raw in values.get("profile", []) for v in [raw.strip()] if v),
        on_demand=on_demand == "true",
        count=count,
        max_count=max_count,
        cursor=cursor,
        echoed=tuple(echoed),
    )


def _search_request(
    request: DocrefRequest, extra: list[tuple[str, str]], registry: SearchRegistry, count: int
) -> SearchRequest:
    pairs = [("patient", f"Patient/{request.patient}")]
    if request.types:
        pairs.append(("type", ",".join(request.types)))
    if request.profiles:
        pairs.append(("_profile", ",".join(request.profiles)))
    return parse_search_request(
        "DocumentReference",
        [*pairs, *extra, ("_count", str(count))],
        registry,
        default_count=count,
        max_count=max(count, request.max_count),
        strict=True,
    )


async def docref(
    store: ResourceStore,
    policy: AccessPolicy,
    request: DocrefRequest,
    *,
    base_url: str | None = None,
    registry: SearchRegistry | None = None,
) -> SearchResult:
    """The patient's DocumentReferences the request selects (see the module text); one page of them."""
    registry = registry or default_registry()
    notes = []
    if request.on_demand:
        text = _("This server does not generate documents on demand; the stored documents are returned.")
        notes.append(Issue("information", "not-supported", text, "on-demand"))
    if request.start is None and request.end is None:
        latest = _search_request(request, [("_sort", "-date")], registry, 1)
        result = await search_type(store, policy, replace(latest, total="none"), base_url=base_url, registry=registry)
        records = result.page.records[: min(1, request.count)]
        return SearchResult(Page(records, len(records), None), [], [*notes, *result.warnings])
    # Overlap of the stored range [lo, hi) with [start, end]: hi > start and lo < end. With the
    # literal prefix semantics (params/date.py) that is `gt` the millisecond before the start
    # (its range ends at the start) and `lt` the millisecond after the end.
    bounds: list[str] = []
    if request.start is not None and (low := parse_date_range(request.start, "start").low).year > 1:
        bounds.append(f"gt{format_instant(low - timedelta(milliseconds=1))}")
    if request.end is not None:
        bounds.append(f"lt{format_instant(parse_date_range(request.end, 'end').high)}")
    by_period = [("period", bound) for bound in bounds]
    by_date = [("period:missing", "true"), *(("date", bound) for bound in bounds)]
    searches = [_search_request(request, extra, registry, request.count) for extra in (by_period, by_date)]
    result = await search_sequence(
        store, policy, searches, request.count, request.cursor, base_url=base_url, registry=registry
    )
    return replace(result, warnings=[*notes, *result.warnings])
