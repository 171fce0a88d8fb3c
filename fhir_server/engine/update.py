"""FHIR update interaction, including create-on-update. https://hl7.org/fhir/R4/http.html#update"""

from __future__ import annotations

from typing import Any

from ..auth.policy import AccessPolicy
from ..storage import ResourceStore
from .identity import check_id
from .results import WriteResult
from .validation import check_incoming, check_resource_type
from .writing import commit_version


async def update_resource(
    store: ResourceStore,
    policy: AccessPolicy,
    resource_type: str,
    resource_id: str,
    body: Any,
    *,
    if_match: int | None = None,
) -> WriteResult:
    """Store `body` as the next version of the resource, creating it when the id is new.

    Raises InvalidRequest (id mismatch, invalid resource), PreconditionFailed (stale If-Match) or Forbidden.
    """
    check_resource_type(resource_type)
    check_id(resource_id)
    if not policy.allows("u", resource_type):
        policy.require("c", resource_type)  # an update of nothing creates
    resource = check_incoming(body, resource_type, resource_id)
    return await commit_version(store, policy, resource_type, resource_id, lambda _current: resource, if_match=if_match,
                                method="PUT")  # fmt: skip
