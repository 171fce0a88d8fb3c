"""FHIR create interaction. https://hl7.org/fhir/R4/http.html#create"""

from __future__ import annotations

from typing import Any

from ..auth.policy import AccessPolicy
from ..storage import ResourceStore
from .identity import new_id
from .results import WriteResult
from .validation import check_incoming, check_resource_type
from .writing import commit_version


async def create_resource(store: ResourceStore, policy: AccessPolicy, resource_type: str, body: Any) -> WriteResult:
    """Store `body` as version 1 of a new resource with a server-assigned id (any id sent is ignored).

    Raises InvalidResource (400) or Forbidden (403).
    """
    check_resource_type(resource_type)
    policy.require("c", resource_type)
    resource = check_incoming(body, resource_type, None)
    resource_id = new_id()
    return await commit_version(
        store, policy, resource_type, resource_id, lambda _current: resource, if_match=None, method="POST", new_id=True
    )
