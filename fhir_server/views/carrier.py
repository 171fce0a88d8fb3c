"""ViewDefinitions stored in this server: an R4 `Library` carries one.

ViewDefinition is not an R4 resource type, and the server validates every stored resource against
the R4 model (profiles/), so a stored view is a Library (CRUD, history and search by name, url and
status come with it) whose `content` holds the view as JSON in an attachment of the media type
`VIEW_MEDIA_TYPE`, and whose `name`, `url` and `status` repeat the view's, so that searching the
Libraries by them finds the view. `$viewdefinition-run` takes such a Library by reference
(`viewReference`: `Library/{id}` or `ViewDefinition/{id}`, both naming the Library's id, or the
view's canonical URL, found by the Library's `url`) or at instance level (`Library/{id}/$viewdefinition-run`).
"""

from __future__ import annotations

import base64
from typing import Any

from ..errors import InvalidRequest
from ..fhir_json import dumps, loads
from ..i18n import _

VIEW_MEDIA_TYPE = "application/sql-on-fhir-viewdefinition+json"
LIBRARY_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/library-type", "code": "logic-library"}]}


def view_library(view: dict[str, Any]) -> dict[str, Any]:
    """The Library that carries `view` (its id, name, url, title and status copied)."""
    library: dict[str, Any] = {"resourceType": "Library"}
    for key in ("id", "url", "name", "title", "description"):
        if isinstance(view.get(key), str):
            library[key] = view[key]
    library["status"] = view.get("status") if view.get("status") in ("draft", "active", "retired") else "draft"
    library["type"] = LIBRARY_TYPE
    library["content"] = [{"contentType": VIEW_MEDIA_TYPE, "data": base64.b64encode(dumps(view)).decode()}]
    return library


def library_view(library: dict[str, Any]) -> dict[str, Any]:
    """The view a Library carries; InvalidRequest (400) when it carries none."""
    for index, content in enumerate(library.get("content") or []):
        if isinstance(content, dict) and content.get("contentType") == VIEW_MEDIA_TYPE:
            try:
                view = loads(base64.b64decode(str(content.get("data", "")), validate=True))
            except ValueError as exc:
                raise InvalidRequest(
                    _("The Library's ViewDefinition is not valid JSON."), expression=f"Library.content[{index}].data"
                ) from exc
            if isinstance(view, dict):
                return view
    raise InvalidRequest(
        _("This Library carries no ViewDefinition (an attachment of type {media_type}).").format(
            media_type=VIEW_MEDIA_TYPE
        ),
        expression="Library.content",
    )
