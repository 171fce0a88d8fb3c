"""An AccessPolicy turned into database filters and write checks (DESIGN.md: the engine enforces it in queries).

- A search gets `access_clauses`: ANDed into its query, they keep out what the token may not
  reach. A `patient/` scope becomes `{"compartments": "Patient/<id>"}` (every stored resource
  carries its patient compartments, a Patient its own, so this runs on the compartment
  index); a granular scope's query is compiled by the search compiler like the client's own
  parameters. Several alternatives OR together, their shared clauses factored out.
- History filters versions the same way (`type_criteria`): every version keeps its compartments
  and its search entries (`idx`), so a granular scope's compiled query runs on them; versions
  stored before they kept entries match no query (fail closed).
- A write is checked on the resource before and after it (`check_write`): under a `patient/`
  scope both must be in the patient's compartment. Under a granular scope (`Observation.cu?
  category=...`) both must match its query: the stored version is matched before the write
  with the same filter as a search, the new content inside the write's transaction once it is
  written with its search entries (engine/writing.py `guard_write`; a mismatch aborts it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..auth.policy import EVERYTHING, PERMISSION_NAMES, AccessPolicy, Reach
from ..errors import Forbidden, InvalidRequest
from ..i18n import _
from ..search.extract import extract_index
from ..search.plan import plan_filter
from ..search.registry import default_registry
from ..search.request import Filter, parse_search_request
from ..storage import VERSION_SEARCHABLE, StoredResource

Compile = Callable[[str, tuple[Filter, ...]], Awaitable[list[dict[str, Any]]]]
"""Filters of one type into storage clauses (the search planner's `clauses`)."""

NOTHING: dict[str, Any] = {"_id": {"$in": []}}
"""A clause no resource matches."""


async def _reach_clauses(resource_type: str, reach: Reach, compile_filters: Compile) -> list[dict[str, Any]] | None:
    clauses: list[dict[str, Any]] = []
    if reach.compartment is not None:
        clauses.append({"compartments": reach.compartment})
    if reach.query:
        try:
            request = parse_search_request(
                resource_type, reach.query, default_registry(), default_count=1, max_count=1, strict=True
            )
        except InvalidRequest:
            return None  # a scope query this type cannot answer grants nothing on it
        clauses += await compile_filters(resource_type, request.filters)
    return clauses


async def access_clauses(
    policy: AccessPolicy, permission: str, resource_type: str, compile_filters: Compile
) -> list[dict[str, Any]]:
    """Clauses to AND into a query of `resource_type` so it finds only what `permission` reaches.

    Raises Forbidden (403) when the policy grants `permission` on no resource of the type.
    """
    policy.require(permission, resource_type)
    reaches = policy.reaches(permission, resource_type)
    if reaches == EVERYTHING:
        return []
    alternatives = []
    for reach in reaches:
        clauses = await _reach_clauses(resource_type, reach, compile_filters)
        if clauses is not None:
            alternatives.append(clauses)
    if not alternatives:
        return [NOTHING]
    if len(alternatives) == 1:
        return alternatives[0]
    common = [c for c in alternatives[0] if all(c in other for other in alternatives[1:])]
    rest = [[c for c in clauses if c not in common] for clauses in alternatives]
    if any(not clauses for clauses in rest):
        return common
    return [*common, {"$or": [plan_filter(resource_type, clauses).criteria for clauses in rest]}]


def plain_reaches(policy: AccessPolicy, permission: str, resource_type: str) -> tuple[Reach, ...]:
    """The alternatives without a search query: what compartment and type filters alone can enforce."""
    return tuple(reach for reach in policy.reaches(permission, resource_type) if not reach.query)


async def type_criteria(
    policy: AccessPolicy, permission: str, types: Iterable[str], compile_filters: Compile
) -> dict[str, Any] | None:
    """A filter over history entries of several types at once; None when it limits nothing.

    Plain scopes filter on `type` and `compartments`; a granular scope's query is compiled like a
    search's and runs on the search entries each version keeps (`idx`), for the versions that keep
    them (`VERSION_SEARCHABLE`; older ones match no query). Raises Forbidden when none of `types`
    can be reached.
    """
    if policy.trusted:
        return None
    kinds_asked = list(types)
    free: list[str] = []
    confined: dict[str, list[str]] = {}
    granular: list[dict[str, Any]] = []
    reachable = False
    for resource_type in kinds_asked:
        reaches = policy.reaches(permission, resource_type)
        reachable = reachable or bool(reaches)
        if EVERYTHING[0] in reaches:
            free.append(resource_type)
            continue
        for reach in reaches:
            if not reach.query:
                if reach.compartment is not None:
                    confined.setdefault(reach.compartment, []).append(resource_type)
                continue
            clauses = await _reach_clauses(resource_type, reach, compile_filters)
            if clauses is not None:
                clauses = [{"type": resource_type}, VERSION_SEARCHABLE, *clauses]
                granular.append(plan_filter(resource_type, clauses).criteria)
    if not reachable:
        raise Forbidden(
            _("This token allows {interaction} on none of these resource types.").format(
                interaction=PERMISSION_NAMES.get(permission, permission)
            )
        )
    if not confined and not granular and len(free) == len(kinds_asked):
        return None
    alternatives: list[dict[str, Any]] = [{"type": {"$in": free}}] if free else []
    alternatives += [{"type": {"$in": kinds}, "compartments": c} for c, kinds in confined.items()]
    alternatives += granular
    if not alternatives:
        return NOTHING
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def write_permission(method: str, current: StoredResource | None) -> str:
    """The SMART permission a write needs: an update of nothing (or of a deletion) creates."""
    if method == "DELETE":
        return "d"
    if method == "PATCH" or (method == "PUT" and current is not None and not current.deleted):
        return "u"
    return "c"


def _compartments(resource_type: str, resource_id: str, body: dict[str, Any]) -> list[str]:
    return extract_index({**body, "resourceType": resource_type, "id": resource_id}).compartments


@dataclass(frozen=True)
class QueryCheck:
    """What a write still needs once compartments are checked: the stored version (`current`) and/or the
    new content (`new`) must match the query of a granular scope granting `permission` (one of them)."""

    permission: str
    current: bool
    new: bool


def check_write(
    policy: AccessPolicy,
    method: str,
    resource_type: str,
    resource_id: str,
    current: StoredResource | None,
    body: dict[str, Any] | None,
) -> QueryCheck | None:
    """Raise Forbidden (403) unless the policy may let this write change `current` into `body` (None: a deletion).

    The stored version and the new content must each be within what the write's permission reaches.
    Compartments are checked here; what only a granular scope's query can allow is returned as a
    QueryCheck for the engine to run on the database (None: nothing left to check).
    """
    permission = write_permission(method, current)
    policy.require(permission, resource_type)
    if resource_type == "SearchParameter":
        policy.require_system(permission, resource_type)  # it changes how every client's searches behave
    reaches = policy.reaches(permission, resource_type)
    if reaches == EVERYTHING:
        return None
    plain = {reach.compartment for reach in reaches if not reach.query}
    granular = [reach for reach in reaches if reach.query]
    touched: list[tuple[str, dict[str, Any]]] = [("new", body)] if body is not None else []
    if current is not None and not current.deleted:
        touched.append(("current", current.resource()))
    unsettled: list[str] = []
    for which, resource in touched:
        compartments = set(_compartments(resource_type, resource_id, resource))
        if plain & compartments:
            continue
        if not any(reach.compartment is None or reach.compartment in compartments for reach in granular):
            allowed = sorted(c for c in {*plain, *(reach.compartment for reach in granular)} if c)
            raise Forbidden(
                _("{type}/{id} would not be in the compartment of {patients}: this token may only write "
                  "that patient's record.").format(type=resource_type, id=resource_id, patients=", ".join(allowed))
            )  # fmt: skip
        unsettled.append(which)
    if not unsettled:
        return None
    return QueryCheck(permission, "current" in unsettled, "new" in unsettled)


def refused_write(
    policy: AccessPolicy, permission: str, resource_type: str, resource_id: str, *, stored: bool
) -> Forbidden:
    """The 403 for a write whose stored version (`stored`) or new content matches no granular scope's query."""
    interaction = PERMISSION_NAMES.get(permission, permission)
    scopes = " ".join(str(s) for s in policy.scopes if s.query and s.allows(permission, resource_type))
    reference = f"{resource_type}/{resource_id}"
    if stored:
        return Forbidden(
            _("{reference} as stored matches the query of no scope that allows {interaction} on {type} "
              "({scopes}).").format(reference=reference, interaction=interaction, type=resource_type, scopes=scopes)
        )  # fmt: skip
    return Forbidden(
        _("The new content of {reference} matches the query of no scope that allows {interaction} on {type} "
          "({scopes}); nothing was written.").format(
            reference=reference, interaction=interaction, type=resource_type, scopes=scopes)
    )  # fmt: skip


def version_compartments(record: StoredResource, body: dict[str, Any] | None) -> set[str]:
    """The patient compartments of one version's body (a deletion: of the body it deleted)."""
    return set(_compartments(record.resource_type, record.id, body)) if body else set()


__all__ = [
    "NOTHING",
    "QueryCheck",
    "access_clauses",
    "check_write",
    "refused_write",
    "plain_reaches",
    "type_criteria",
    "version_compartments",
    "write_permission",
]
