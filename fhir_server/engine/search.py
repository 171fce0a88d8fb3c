"""FHIR search at type level and in a compartment. https://hl7.org/fhir/R4/search.html

The request's filters become one storage query, with the caller's access filters ANDed in
(engine/access.py): matches, chain and `_has` steps and included resources alike. Chains (`subject:Patient.name=x`) and
reverse chains (`_has:Observation:patient:code=x`) are resolved first, innermost step
first, into the ids they stand for; `_include` and `_revinclude` are fetched for the page
of matches, so they are paged with them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from terminology.expansion import expand_value_set
from terminology.hierarchy import related_codes

from ..auth.policy import EVERYTHING, AccessPolicy
from ..errors import InvalidRequest, Issue
from ..i18n import _
from ..search.compile import filter_criterion, reference_criterion
from ..search.plan import plan_filter
from ..search.registry import SearchRegistry, default_registry
from ..search.request import Filter, Include, SearchRequest
from ..storage import CurrentQuery, ResourceStore, StoredResource
from .access import access_clauses
from .identity import now
from .results import Page
from .validation import check_resource_type

MAX_CHAIN_MATCHES = 10_000
"""A chain or `_has` step may stand for at most this many resources; more is refused (too costly)."""

MAX_INCLUDES = 1_000
"""Included resources per page; beyond it the Bundle carries a warning instead of staying silent."""


@dataclass(frozen=True)
class SearchResult:
    """A page of matches, the resources included for them, and warnings for the client."""

    page: Page
    included: list[StoredResource]
    warnings: list[Issue]


def planned_query(resource_type: str, clauses: list[dict[str, Any]], **paging: Any) -> CurrentQuery:
    """The storage query for clauses ANDed together, shaped to run on an index (see search/plan.py)."""
    plan = plan_filter(resource_type, clauses)
    return CurrentQuery(resource_type, plan.criteria, driver=plan.driver, **paging)


async def current_meets(
    store: ResourceStore, resource_type: str, resource_id: str, clauses: list[dict[str, Any]]
) -> bool:
    """Whether the current version of `resource_type/resource_id` meets `clauses` (access filters)."""
    query = planned_query(resource_type, [{"_id": {"$in": [f"{resource_type}/{resource_id}"]}}, *clauses])
    return bool(await store.find_ids(query, 1))


def search_planner(store: ResourceStore, policy: AccessPolicy) -> _Planner:
    """A planner that compiles filters (and the policy's access clauses) as a search by `policy` would."""
    return _Planner(store, policy, default_registry(), now(), None)


async def access_filter(
    store: ResourceStore, policy: AccessPolicy, permission: str, resource_type: str
) -> list[dict[str, Any]]:
    """The clauses that keep a query of `resource_type` within what `permission` reaches (engine/access.py)."""
    return await search_planner(store, policy).access(permission, resource_type)


class _Planner:
    def __init__(
        self,
        store: ResourceStore,
        policy: AccessPolicy,
        registry: SearchRegistry,
        moment: datetime,
        base_url: str | None,
    ) -> None:
        self.store, self.policy, self.registry, self.moment, self.base_url = store, policy, registry, moment, base_url

    async def access(self, permission: str, resource_type: str) -> list[dict[str, Any]]:
        """The clauses that keep a query of `resource_type` within the policy; Forbidden when it reaches none."""
        return await access_clauses(self.policy, permission, resource_type, self.clauses)

    async def clauses(self, resource_type: str, filters: tuple[Filter, ...]) -> list[dict[str, Any]]:
        """One storage clause per filter (ANDed); chains and `_has` are resolved into ids here."""
        return [await self._criterion(resource_type, flt) for flt in filters]

    async def _matching_ids(self, resource_type: str, flt: Filter) -> list[str]:
        criterion = await self._criterion(resource_type, flt)
        access = await self.access("s", resource_type)  # a chain must not reveal what the token cannot search
        ids = await self.store.find_ids(planned_query(resource_type, [criterion, *access]), MAX_CHAIN_MATCHES + 1)
        if len(ids) > MAX_CHAIN_MATCHES:
            raise InvalidRequest(
                _("'{name}' matches more than {limit} resources; narrow it down.").format(
                    name=flt.name, limit=MAX_CHAIN_MATCHES
                ),
                expression=flt.name,
            )
        return ids

    async def _criterion(self, resource_type: str, flt: Filter) -> dict[str, Any]:
        if flt.has:
            step, rest = flt.has[0], flt._replace(has=flt.has[1:])
            source_criterion = await self._criterion(step.source, rest)
            access = await self.access("s", step.source)
            references = await self.store.references_of(
                planned_query(step.source, [source_criterion, *access]), step.code, MAX_CHAIN_MATCHES
            )
            prefix = f"{resource_type}/"
            return {"_id": {"$in": [ref for ref in references if ref.startswith(prefix)]}}
        if flt.chain:
            link, rest = flt.chain[0], flt._replace(chain=flt.chain[1:])
            ids = await self._matching_ids(link.target, rest)
            return reference_criterion(link.code, [f"{link.target}/{i}" for i in ids])
        modifier = flt.modifier
        value_sets = None
        if modifier in ("in", "not-in"):
            value_sets = await self._expansions(flt)
        elif flt.definition.type == "token" and modifier in ("above", "below"):
            value_sets, modifier = await self._subsumed(flt), "in"
        return filter_criterion(
            resource_type,
            flt.definition,
            modifier,
            flt.values,
            registry=self.registry,
            now=self.moment,
            base_url=self.base_url,
            value_sets=value_sets,
        )

    async def _expansions(self, flt: Filter) -> dict[str, list[tuple[str | None, str]]]:
        """Expand the value sets named by an `:in` / `:not-in` filter from those stored on the server."""
        expansions = {}
        for url in flt.values:
            try:
                expansions[url] = await expand_value_set(url, self._fetch_canonical)
            except InvalidRequest as exc:
                raise InvalidRequest(str(exc), expression=flt.name) from exc
        return expansions

    async def _subsumed(self, flt: Filter) -> dict[str, list[tuple[str | None, str]]]:
        """For `:below` / `:above`, each `system|code` value with the codes under / above it in its CodeSystem."""
        related: dict[str, list[tuple[str | None, str]]] = {}
        for value in flt.values:
            system, sep, code = value.partition("|")
            code_system = await self._fetch_canonical("CodeSystem", system) if sep and system and code else None
            if code_system is None:
                raise InvalidRequest(
                    _("'{value}' needs system|code of a CodeSystem stored on this server for '{name}'.").format(
                        value=value[:200], name=flt.name
                    ),
                    expression=flt.name,
                )
            related[value] = [(system, c) for c in related_codes(code_system, code, flt.modifier or "below")]
        return related

    async def _fetch_canonical(self, resource_type: str, canonical: str) -> dict[str, Any] | None:
        """The current ValueSet or CodeSystem with this `url` (and `|version`, if given)."""
        url, _sep, version = canonical.partition("|")
        entries = [{"idx": {"$elemMatch": {"p": "url", "u": url}}}]
        if version:
            entries.append({"idx": {"$elemMatch": {"p": "version", "c": version}}})
        found = await self.store.find(planned_query(resource_type, entries), 1)
        return found[0].resource() if found else None

    def sort(self, request: SearchRequest) -> tuple[tuple[str, int], ...]:
        fields = {"_id": "_id", "_lastUpdated": "lastUpdated"}
        return tuple((fields.get(key.code, f"sort.{key.code}"), -1 if key.descending else 1) for key in request.sort)

    async def includes(
        self, request: SearchRequest, matches: list[StoredResource]
    ) -> tuple[list[StoredResource], Issue | None]:
        """Resources named by `_include`/`_revinclude` for `matches`, following `:iterate` to a fixed point,
        and a warning when the limit of rounds or of included resources cut them short."""
        seen = {record.reference for record in matches}
        included: list[StoredResource] = []
        frontier = matches
        rounds = 0
        iterating = any(include.iterate for include in request.includes)
        while frontier and request.includes:
            if rounds > request.limits.iterate_rounds and iterating:
                text = _("_include:iterate stopped after {limit} rounds; the resources they reach may include more.")
                return included, Issue("warning", "too-costly", text.format(limit=request.limits.iterate_rounds))
            found: list[StoredResource] = []
            for include in request.includes:
                if rounds == 0 or include.iterate:
                    found += await self._include(include, frontier)
            fresh = [record for record in found if record.reference not in seen]
            seen.update(record.reference for record in fresh)
            included += fresh
            if len(included) > MAX_INCLUDES:
                text = _(
                    "More than {limit} resources were to be included; only the first {limit} are. Use a smaller _count."
                )
                return included[:MAX_INCLUDES], Issue("warning", "too-costly", text.format(limit=MAX_INCLUDES))
            frontier, rounds = fresh, rounds + 1
        return included, None

    async def _include(self, include: Include, frontier: list[StoredResource]) -> list[StoredResource]:
        """Included resources pass the same access filters as matches; those the token cannot read are left out."""
        if include.reverse:
            targets = [record.reference for record in frontier]
            if include.code is None or not self.policy.allows("r", include.source):
                return []
            clauses = [reference_criterion(include.code, targets), *await self.access("r", include.source)]
            return await self.store.find(planned_query(include.source, clauses), MAX_INCLUDES + 1)
        sources = tuple(record.id for record in frontier if record.resource_type == include.source)
        if not sources:
            return []
        references = await self.store.references_of(
            CurrentQuery(include.source, {}, ids=sources), include.code, MAX_INCLUDES + 1
        )
        local = [ref for ref in references if ref.count("/") == 1]
        if include.target:
            local = [ref for ref in local if ref.startswith(f"{include.target}/")]
        return await self._readable(local)

    async def _readable(self, keys: list[str]) -> list[StoredResource]:
        """The current resources of `keys` ("Type/id") that the policy lets the caller read."""
        by_type: dict[str, list[str]] = {}
        for key in keys:
            by_type.setdefault(key.partition("/")[0], []).append(key)
        free = [t for t in by_type if self.policy.reaches("r", t) == EVERYTHING]
        found = await self.store.get_many([key for t in free for key in by_type[t]])
        for resource_type, typed in by_type.items():
            if resource_type in free or not self.policy.allows("r", resource_type):
                continue
            clauses = [{"_id": {"$in": typed}}, *await self.access("r", resource_type)]
            found += await self.store.find(planned_query(resource_type, clauses), len(typed))
        return found


async def search_type(
    store: ResourceStore,
    policy: AccessPolicy,
    request: SearchRequest,
    *,
    compartment: str | None = None,
    base_url: str | None = None,
    registry: SearchRegistry | None = None,
    permission: str = "s",
) -> SearchResult:
    """One page of current resources matching `request`, with its includes and the total unless `_total=none`.

    `compartment` ("Patient/123") limits the search to that compartment. Only what `permission`
    (search; a write's letter for conditional criteria) reaches under `policy` is found. Raises
    InvalidRequest for malformed values, TooCostly when the database time of `request.limits` runs
    out, ResourceNotFound for an unknown type and Forbidden.
    """
    check_resource_type(request.resource_type)
    with store.time_limit(request.limits.time_ms):
        return await _search_page(store, policy, request, compartment, base_url, registry, permission)


async def _search_page(
    store: ResourceStore,
    policy: AccessPolicy,
    request: SearchRequest,
    compartment: str | None,
    base_url: str | None,
    registry: SearchRegistry | None,
    permission: str,
) -> SearchResult:
    planner = _Planner(store, policy, registry or default_registry(), now(), base_url)
    clauses = [*await planner.access(permission, request.resource_type)]
    clauses += await planner.clauses(request.resource_type, request.filters)
    if compartment is not None:
        clauses.append({"compartments": compartment})
    sort = planner.sort(request)
    query = planned_query(
        request.resource_type,
        clauses,
        after=None if sort else request.cursor,
        sort=sort,
        offset=request.offset if sort else 0,
    )
    query = await store.narrow(query)
    counted = request.total != "none" or request.summary == "count"
    every_match = replace(query, after=None, offset=0)
    if request.summary == "count" or request.count == 0:
        total = await store.count(every_match) if counted else None
        return SearchResult(Page([], total, None), [], list(request.notes))
    records = await store.find(query, request.count + 1)
    more = len(records) > request.count
    records = records[: request.count]
    total = None
    if counted:
        first_page = request.offset == 0 and request.cursor is None
        # a first page that holds every match is its own count: no second query
        total = len(records) if first_page and not more else await store.count(every_match)
    next_cursor = None
    if more and records:
        next_cursor = str(request.offset + request.count) if sort else records[-1].id
    included, cut_short = await planner.includes(request, records)
    warnings = [*request.notes]
    warnings += [
        Issue(
            "warning",
            "incomplete",
            _("'{name}' was defined recently; until $reindex finishes, older resources may be missing.").format(
                name=flt.name
            ),
            flt.name,
        )
        for flt in request.filters
        if planner.registry.is_pending(flt.definition)
    ]
    if request.filters and planner.registry.layout_pending():
        text = _("The search index is being rebuilt; until that finishes, older resources may be missing.")
        warnings.append(Issue("warning", "incomplete", text))
    if cut_short is not None:
        warnings.append(cut_short)
    return SearchResult(Page(records, total, next_cursor), included, warnings)
