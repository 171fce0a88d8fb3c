"""FHIR JSON responses and the headers that describe a stored version."""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from starlette.responses import Response

from ..fhir_json import dumps
from ..storage import StoredResource

FHIR_JSON = "application/fhir+json"


class FhirResponse(Response):
    """A response in `application/fhir+json`; takes a dict (decimals written exactly) or ready-made JSON bytes."""

    media_type = f"{FHIR_JSON}; charset=utf-8"

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        return dumps(content)


def version_headers(record: StoredResource, base_url: str | None = None) -> dict[str, str]:
    """ETag and Last-Modified of a version; with `base_url`, also its Location (R4 http.html#create)."""
    headers = {
        "ETag": f'W/"{record.version_id}"',
        "Last-Modified": format_datetime(record.last_updated, usegmt=True),
    }
    if base_url is not None:
        headers["Location"] = f"{base_url}/{record.reference}/_history/{record.version_id}"
    return headers
