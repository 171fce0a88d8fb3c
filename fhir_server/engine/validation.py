"""The checks every incoming resource passes before it is stored."""

from __future__ import annotations

from typing import Any

import profiles

from ..errors import InvalidRequest, InvalidResource, ResourceNotFound
from ..i18n import _
from .identity import check_id


def check_resource_type(resource_type: str) -> str:
    """Return `resource_type` if it is one of the R4 resource types; raise ResourceNotFound (404) otherwise."""
    if not profiles.is_known_type(resource_type):
        raise ResourceNotFound(
            _("'{type}' is not a FHIR R4 resource type this server knows.").format(type=resource_type[:80])
        )
    return resource_type


def check_incoming(body: Any, resource_type: str, url_id: str | None) -> dict[str, Any]:
    """Validate a resource sent for `resource_type` and return it ready to be stamped.

    For an update `url_id` is the id in the URL: the body must carry the same id (R4
    http.html#update). For a create the body's id, if any, is replaced by the server's.
    Raises InvalidRequest / InvalidResource with one issue per problem. Checks that need the database
    or other resources are write rules (engine/rules), run just before the commit.
    """
    if not isinstance(body, dict):
        raise InvalidRequest(_("The request body must be a JSON object holding a FHIR resource."))
    sent_type = body.get("resourceType")
    if sent_type is None:
        raise InvalidRequest(_("The resource has no 'resourceType'."), expression="resourceType")
    if sent_type != resource_type:
        raise InvalidRequest(
            _("The resource is a '{sent}' but the URL is for '{expected}'.").format(
                sent=str(sent_type)[:80], expected=resource_type
            ),
            expression="resourceType",
        )
    if url_id is not None:
        body_id = body.get("id")
        if body_id is None:
            raise InvalidRequest(
                _("An update must carry the resource id in its body."), expression=f"{resource_type}.id"
            )
        if body_id != url_id:
            raise InvalidRequest(
                _("The id in the body ('{body_id}') does not match the id in the URL ('{url_id}').").format(
                    body_id=str(body_id)[:80], url_id=url_id
                ),
                expression=f"{resource_type}.id",
            )
        check_id(url_id, f"{resource_type}.id")
    issues = [issue for issue in profiles.validate_resource(body) if issue.severity in ("error", "fatal")]
    if issues:
        raise InvalidResource(issues[0].diagnostics, issues=issues)
    return body
