"""An AccessPolicy turned into database filters and write checks (DESIGN.md: the engine enforces it in queries).

- A search gets `access_clauses`: ANDed into its query, they keep out what the token may not
  reach. A `patient/` scope becomes `{"compartments": "Patient/<id>"}` (every stored resource
  carries its patient compartments, a Patient its own, so this runs on the compartment
  index); a granular scope's query is compiled by the search compiler like the client's own
  parameters. Several alternatives OR together, their shared clauses factored out.
- History, `$everything` and `$export` run on compartments and types only (history versions
  carry no search entries), so there only the alternatives without a query count (`plain_reaches`).
- A write is checked on the resource before and after it (`check_write`): under a `patient/`
  scope both must be in the patient's compartment. Granular scopes do not grant writes (yet):
  a write cannot be matched against a search before it is stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..auth.policy import EVERYTHING, AccessPolicy, Reach
from ..errors import Forbidden, InvalidRequest
from ..i18n import _
from ..search.extract import extract_index
from ..search.plan import plan_filter
from ..search.registry import default_registry
from ..search.request import Filter, parse_search_request
from ..storage import StoredResource

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


def type_criteria(policy: AccessPolicy, permission: str, types: Iterable[str]) -> dict[str, Any] | None:
    """A filter on `type` and `compartments` for several types at once (history); None when it limits nothing.

    Raises Forbidden when none of `types` can be reached that way.
    """
    if policy.trusted:
        return None
    kinds_asked = list(types)
    free: list[str] = []
    confined: dict[str, list[str]] = {}
    reachable = False
    for resource_type in kinds_asked:
        reaches = plain_reaches(policy, permission, resource_type)
        if EVERYTHING[0] in reaches:
            free.append(resource_type)
        for reach in reaches:
            if reach.compartment is not None and resource_type not in free:
                confined.setdefault(reach.compartment, []).append(resource_type)
        reachable = reachable or bool(reaches)
    if not reachable:
        raise Forbidden(
            _("This token allows no {interaction} that can be limited to its patient or its types here; "
              "scopes with a search query do not cover history or bulk operations.").format(interaction=permission)
        )  # fmt: skip
    if not confined and len(free) == len(kinds_asked):
        return None
    alternatives: list[dict[str, Any]] = [{"type": {"$in": free}}] if free else []
    alternatives += [{"type": {"$in": kinds}, "compartments": c} for c, kinds in confined.items()]
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


def check_write(
    policy: AccessPolicy,
    method: str,
    resource_type: str,
    resource_id: str,
    current: StoredResource | None,
    body: dict[str, Any] | None,
) -> None:
    """Raise Forbidden (403) unless the policy lets this write change `current` into `body` (None: a deletion)."""
    permission = write_permission(method, current)
    policy.require(permission, resource_type)
    if resource_type == "SearchParameter":
        policy.require_system(permission, resource_type)  # it changes how every client's searches behave
    reaches = plain_reaches(policy, permission, resource_type)
    if EVERYTHING[0] in reaches:
        return
    allowed = {reach.compartment for reach in reaches}
    if not allowed:
        raise Forbidden(_("Scopes with a search query do not allow writes; {type} needs a scope without one.")
                        .format(type=resource_type))  # fmt: skip
    touched = [body] if body is not None else []
    if current is not None and not current.deleted:
        touched.append(current.resource())
    for resource in touched:
        if not allowed & set(_compartments(resource_type, resource_id, resource)):
            raise Forbidden(
                _("{type}/{id} would not be in the compartment of {patients}: this token may only write "
                  "that patient's record.").format(type=resource_type, id=resource_id, patients=", ".join(
                    sorted(c for c in allowed if c)))
            )  # fmt: skip


def version_compartments(record: StoredResource, body: dict[str, Any] | None) -> set[str]:
    """The patient compartments of one version's body (a deletion: of the body it deleted)."""
    return set(_compartments(record.resource_type, record.id, body)) if body else set()


__all__ = [
    "NOTHING",
    "access_clauses",
    "check_write",
    "plain_reaches",
    "type_criteria",
    "version_compartments",
    "write_permission",
]
