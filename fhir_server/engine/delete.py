"""FHIR delete interaction (logical: history keeps every version). https://hl7.org/fhir/R4/http.html#delete"""

from __future__ import annotations

from ..auth.policy import AccessPolicy
from ..storage import ResourceStore, StoredResource
from .identity import check_id
from .results import WriteResult
from .validation import check_resource_type
from .writing import commit_version


class _NothingToDelete(Exception):
    """The resource does not exist or is already deleted: R4 treats that delete as a success."""


def _deletion(current: StoredResource | None) -> None:
    if current is None or current.deleted:
        raise _NothingToDelete


async def delete_resource(
    store: ResourceStore, policy: AccessPolicy, resource_type: str, resource_id: str, *, if_match: int | None = None
) -> WriteResult | None:
    """Record a deletion as a new version; None when there was nothing to delete.

    Raises PreconditionFailed when `if_match` is not the current version, Forbidden (403) when not allowed.
    """
    check_resource_type(resource_type)
    check_id(resource_id)
    policy.require("d", resource_type)
    try:
        return await commit_version(
            store, policy, resource_type, resource_id, _deletion, if_match=if_match, method="DELETE"
        )
    except _NothingToDelete:
        return None
