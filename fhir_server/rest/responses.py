"""FHIR responses (JSON, or XML when the request asked for it) and the headers that describe a stored version."""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from starlette.responses import Response

from ..fhir_json import dumps, loads
from ..formats.negotiation import FHIR_XML, Format, response_format
from ..formats.xml_write import to_xml
from ..storage import StoredResource

FHIR_JSON = "application/fhir+json"


class FhirResponse(Response):
    """A resource in `application/fhir+json`; takes a dict (decimals written exactly) or ready-made JSON bytes.

    When the request asked for XML (formats/negotiation.py), the resource is written in `application/fhir+xml`.
    """

    media_type = f"{FHIR_JSON}; charset=utf-8"

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        if response_format.get() is Format.XML:
            self.media_type = f"{FHIR_XML}; charset=utf-8"
            return to_xml(loads(content) if isinstance(content, bytes) else content)
        if isinstance(content, bytes):
            return content
        return dumps(content)


def with_vary(headers: list[tuple[bytes, bytes]], field: bytes) -> list[tuple[bytes, bytes]]:
    """`headers` with `field` in one merged `Vary` header (kept as is if it already varies on it or on `*`)."""
    out = [(name, value) for name, value in headers if name.lower() != b"vary"]
    vary = [v.strip() for name, value in headers if name.lower() == b"vary" for v in value.split(b",") if v.strip()]
    if not any(v.lower() in (field.lower(), b"*") for v in vary):
        vary.append(field)
    out.append((b"vary", b", ".join(vary)))
    return out


def version_headers(record: StoredResource, base_url: str | None = None) -> dict[str, str]:
    """ETag and Last-Modified of a version; with `base_url`, also its Location (R4 http.html#create)."""
    headers = {
        "ETag": f'W/"{record.version_id}"',
        "Last-Modified": format_datetime(record.last_updated, usegmt=True),
    }
    if base_url is not None:
        headers["Location"] = f"{base_url}/{record.reference}/_history/{record.version_id}"
    return headers
