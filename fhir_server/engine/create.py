"""FHIR create interaction. https://hl7.org/fhir/R4/http.html#create"""

from __future__ import annotations

from typing import Any

from ..storage import ResourceStore
from .identity import new_id
from .results import WriteResult
from .validation import check_incoming, check_resource_type
from .writing import commit_version


async def create_resource(store: ResourceStore, resource_type: str, body: Any) -> WriteResult:
    """Store `body` as version 1 of a new resource with a server-assigned id (any id sent is ignored)."""
    check_resource_type(resource_type)
    resource = check_incoming(body, resource_type, None)
    resource_id = new_id()
    return await commit_version(
        store, resource_type, resource_id, lambda _current: resource, if_match=None, method="POST", new_id=True
    )
