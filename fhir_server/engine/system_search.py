"""Search across several resource types: GET [base]?_type=A,B&... https://hl7.org/fhir/R4/search.html#all

Each listed type is searched with the same parameters and the results are concatenated in the
order the types were listed (a `_sort` orders the matches within each type). Only parameters
defined for every listed type are allowed (search.html#all: "common" parameters such as `_id`,
`_lastUpdated`, `_tag`); the others are unknown: refused (400), or under `Prefer: handling=lenient`
ignored for all types alike and named in a warning. A search without `_type` would have to visit all 146
R4 types; it is refused with 400.

Paging goes across the types: `search_sequence` runs a list of searches as one result, its
cursor naming the search to resume (by position) and that search's own cursor or offset, so
following `next` links visits every match exactly once. `$docref` uses it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import profiles

from ..auth.policy import AccessPolicy
from ..errors import InvalidRequest, Issue
from ..i18n import _
from ..search.limits import DEFAULT_LIMITS, SearchLimits
from ..search.registry import SearchRegistry, default_registry
from ..search.request import (
    SearchRequest,
    check_parameter_count,
    ignored_notes,
    parse_count,
    parse_search_request,
)
from ..storage import ResourceStore, StoredResource
from .results import Page
from .search import SearchResult, search_type

CONTROL_PARAMETERS = frozenset({
    "_count", "_cursor", "_offset", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total",
    "_format", "_pretty",
})  # fmt: skip
"""Result parameters, not filters: they apply to every type as they are."""


@dataclass(frozen=True)
class SystemSearchRequest:
    """One SearchRequest per listed type (in the order listed), the page size and the paging cursor."""

    types: tuple[str, ...]
    requests: tuple[SearchRequest, ...]
    count: int
    cursor: str | None
    echoed: tuple[tuple[str, str], ...]
    """The parameters that took effect, as sent, for the self link (`_type` first)."""


def parse_type_list(values: Sequence[str], parameter: str = "_type") -> tuple[str, ...]:
    """Resource types from (repeated) comma-separated lists, in order, without repeats; 400 for unknown ones."""
    types: dict[str, None] = {}
    for raw in values:
        for name in raw.split(","):
            name = name.strip()
            if not name:
                continue
            if not profiles.is_known_type(name):
                raise InvalidRequest(
                    _("'{type}' in '{parameter}' is not a FHIR R4 resource type this server knows.").format(
                        type=name[:80], parameter=parameter
                    ),
                    expression=parameter,
                )
            types[name] = None
    return tuple(types)


def parse_system_search(
    query: Sequence[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
    strict: bool,
    registry: SearchRegistry | None = None,
    limits: SearchLimits = DEFAULT_LIMITS,
) -> SystemSearchRequest:
    """Split `_type` from the other parameters and parse them for each type; raise InvalidRequest (400)."""
    registry = registry or default_registry()
    check_parameter_count(query, limits)
    type_values = [raw for name, raw in query if name == "_type"]
    types = parse_type_list(type_values)
    if not types:
        raise InvalidRequest(
            _(
                "A search across all resource types is not supported: name the types to search with "
                "_type, as in ?_type=Patient,Observation."
            ),
            expression="_type",
        )
    rest = [(name, raw) for name, raw in query if name != "_type"]
    common: list[tuple[str, str]] = []
    uncommon: list[str] = []
    for name, raw in rest:
        if name.partition(":")[0] in CONTROL_PARAMETERS:
            common.append((name, raw))
            continue
        # A filter is common when it resolves for every listed type (it is unknown to none of them).
        if any(
            parse_search_request(
                t, [(name, raw)], registry, default_count=1, max_count=1, strict=False, limits=limits
            ).unknown
            for t in types
        ):
            uncommon.append(name)
        else:
            common.append((name, raw))
    if strict and uncommon:
        names = sorted(set(uncommon))
        text = _("'{name}' is not a search parameter of every type in _type ({types}).")
        issues = [Issue("error", "not-supported", text.format(name=n, types=",".join(types)), n) for n in names]
        raise InvalidRequest(
            _("Search parameters not defined for every type in _type: {names}.").format(names=", ".join(names)),
            issues=issues,
        )
    count = default_count
    cursor = None
    for name, raw in common:
        if name == "_count":
            count = parse_count(raw, default_count, max_count)
        elif name == "_cursor":
            cursor = raw
    ignored = ignored_notes(uncommon)
    requests = tuple(
        replace(request, notes=(*request.notes, *ignored))
        for request in (
            parse_search_request(
                t,
                [(n, r) for n, r in common if n not in ("_cursor", "_offset")],
                registry,
                default_count=count,
                max_count=max_count,
                strict=strict,
                limits=limits,
            )
            for t in types
        )
    )
    echoed = (("_type", ",".join(types)), *requests[0].echoed)
    return SystemSearchRequest(types, requests, count, cursor, echoed)


def _decode_cursor(cursor: str | None, phases: int) -> tuple[int, str | None]:
    if not cursor:
        return 0, None
    phase, _sep, inner = cursor.partition("~")
    if not phase.isdigit() or int(phase) >= phases:
        raise InvalidRequest(_("The paging cursor is not valid."), expression="_cursor")
    return int(phase), inner or None


def _resume(request: SearchRequest, inner: str | None) -> SearchRequest:
    """`request` continued where its previous page ended (`inner`: its cursor, or its offset when sorted)."""
    if request.sort:
        if inner is not None and not inner.isdigit():
            raise InvalidRequest(_("The paging cursor is not valid."), expression="_cursor")
        return replace(request, cursor=None, offset=int(inner or 0))
    return replace(request, cursor=inner, offset=0)


async def search_sequence(
    store: ResourceStore,
    policy: AccessPolicy,
    requests: Sequence[SearchRequest],
    count: int,
    cursor: str | None,
    *,
    base_url: str | None = None,
    registry: SearchRegistry | None = None,
) -> SearchResult:
    """The searches in `requests` run one after the other as one paged result of `count` matches a page.

    The total is the sum of the searches' totals (None if any of them was asked not to count).
    `cursor` is the `next_cursor` of the previous page: "<search position>~<that search's cursor>".
    """
    phase, inner = _decode_cursor(cursor, len(requests))
    want_total = all(r.total != "none" or r.summary == "count" for r in requests)
    records: list[StoredResource] = []
    included: list[StoredResource] = []
    warnings: list[Issue] = []
    seen: set[str] = set()
    total = 0
    remaining = count
    next_cursor: str | None = None

    async def run(request: SearchRequest) -> SearchResult:
        return await search_type(store, policy, request, base_url=base_url, registry=registry)

    for position, request in enumerate(requests):
        if position < phase or remaining == 0:
            # Before the page (only counted) or after it is full (counted, and probed for a next page).
            if want_total:
                counted = await run(replace(request, count=0, includes=()))
                total += counted.page.total or 0
                found_more = bool(counted.page.total)
            elif position > phase and next_cursor is None and count > 0:
                probe = await run(replace(request, count=1, total="none", summary="false", includes=()))
                found_more = bool(probe.page.records)
            else:
                found_more = False
            if position > phase and found_more and next_cursor is None and count > 0:
                next_cursor = f"{position}~"
            if not want_total and next_cursor is not None:
                break
            continue
        result = await run(replace(_resume(request, inner if position == phase else None), count=remaining))
        total += result.page.total or 0
        records += result.page.records
        remaining -= len(result.page.records)
        for record in result.included:
            if record.reference not in seen:
                seen.add(record.reference)
                included.append(record)
        warnings += [w for w in result.warnings if w not in warnings]
        if result.page.next_cursor is not None:
            next_cursor = f"{position}~{result.page.next_cursor}"
            remaining = 0
    return SearchResult(Page(records, total if want_total else None, next_cursor), included, warnings)


async def search_system(
    store: ResourceStore,
    policy: AccessPolicy,
    request: SystemSearchRequest,
    *,
    base_url: str | None = None,
    registry: SearchRegistry | None = None,
) -> SearchResult:
    """One page of the matches of every type in `request.types`, in that order, with their includes.

    Raises Forbidden (403) when the policy does not allow searching one of the types.
    """
    for search_request in request.requests:
        policy.require("s", search_request.resource_type)
    with store.time_limit(request.requests[0].limits.time_ms):  # one budget for all the types
        return await search_sequence(
            store, policy, request.requests, request.count, request.cursor, base_url=base_url, registry=registry
        )
