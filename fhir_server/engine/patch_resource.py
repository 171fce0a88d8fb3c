"""FHIR patch interaction: JSON Patch and FHIRPath Patch. https://hl7.org/fhir/R4/http.html#patch

The patched result is validated exactly like an update; a result that is not valid R4 is
refused with 422 and nothing is written.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from ..auth.policy import AccessPolicy
from ..errors import InvalidResource, ResourceDeleted, ResourceNotFound, Unprocessable
from ..i18n import _
from ..storage import ResourceStore, StoredResource
from .identity import check_id
from .patch import apply_fhirpath_patch, apply_json_patch
from .results import WriteResult
from .validation import check_incoming, check_resource_type
from .writing import commit_version


class PatchFormat(Enum):
    JSON_PATCH = "application/json-patch+json"
    FHIRPATH_PATCH = "application/fhir+json"


def apply_patch(
    resource: dict[str, Any], patch_format: PatchFormat, document: Any, resource_type: str, resource_id: str
) -> dict[str, Any]:
    """The patched resource, checked like an update. Raises InvalidRequest or Unprocessable (422)."""
    if patch_format is PatchFormat.JSON_PATCH:
        patched = apply_json_patch(resource, document)
    else:
        patched = apply_fhirpath_patch(resource, document)
    if patched.get("resourceType") != resource_type or patched.get("id") != resource_id:
        raise Unprocessable(_("A patch may not change the resource type or id."), expression=f"{resource_type}.id")
    try:
        return check_incoming(patched, resource_type, resource_id)
    except InvalidResource as exc:
        raise Unprocessable(
            _("The patched resource is not valid: {problem}").format(problem=exc), issues=exc.issues
        ) from exc


async def patch_resource(
    store: ResourceStore,
    policy: AccessPolicy,
    resource_type: str,
    resource_id: str,
    patch_format: PatchFormat,
    document: Any,
    *,
    if_match: int | None = None,
) -> WriteResult:
    """Apply `document` to the current version and store the result as the next version.

    Raises ResourceNotFound / ResourceDeleted, InvalidRequest (malformed patch), Unprocessable
    (patch cannot be applied, or its result is not valid R4), PreconditionFailed or Forbidden.
    """
    check_resource_type(resource_type)
    check_id(resource_id)
    policy.require("u", resource_type)
    reference = f"{resource_type}/{resource_id}"

    def build(current: StoredResource | None) -> dict[str, Any]:
        if current is None:
            raise ResourceNotFound(_("{reference} was not found.").format(reference=reference))
        if current.deleted:
            raise ResourceDeleted(_("{reference} was deleted.").format(reference=reference))
        return apply_patch(current.resource(), patch_format, document, resource_type, resource_id)

    return await commit_version(store, policy, resource_type, resource_id, build, if_match=if_match, method="PATCH")
