"""Reading request bodies: media type (415), size limit (413), JSON syntax and repeated keys (400).

Decimals are read exactly (`fhir_json`): `1.10` stays `1.10` all the way to the database and back.
A body in FHIR XML becomes the same JSON structure (formats/xml_read.py), so everything after
this point, validation included, is the same for both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request

from ..errors import InvalidRequest, Issue, PayloadTooLarge, UnsupportedMediaType
from ..fhir_json import InvalidJson, loads
from ..formats.negotiation import XML_MEDIA_TYPES
from ..formats.xml_read import InvalidXml, parse_xml
from ..i18n import _

FHIR_JSON_TYPES = ("application/fhir+json", "application/json")
FHIR_TYPES = (*FHIR_JSON_TYPES, *XML_MEDIA_TYPES)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_media_type(request: Request, accepted: Iterable[str] = FHIR_TYPES) -> str:
    """Return the request's media type if it is one of `accepted`; raise UnsupportedMediaType (415)."""
    found = media_type(request)
    accepted = tuple(accepted)
    if found not in accepted:
        raise UnsupportedMediaType(
            _("Content-Type '{found}' is not supported here; send one of: {accepted}.").format(
                found=found or _("none"), accepted=", ".join(accepted)
            )
        )
    return found


async def read_bytes(request: Request, limit: int) -> bytes:
    """The raw body, read up to `limit` bytes. Raises PayloadTooLarge (413) beyond it."""
    declared = request.headers.get("content-length")
    too_large = PayloadTooLarge(
        _("The request body is larger than this server accepts ({limit} bytes).").format(limit=limit)
    )
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Any:
    """The parsed JSON (or FHIR XML) body, read up to `limit` bytes. Raises PayloadTooLarge or InvalidRequest."""
    raw = await read_bytes(request, limit)
    if not raw.strip():
        raise InvalidRequest(_("The request has no body; a FHIR resource in JSON is expected."))
    return parse_body(raw, media_type(request))


def parse_body(raw: bytes, media: str) -> Any:
    """`raw` as FHIR JSON structure: parsed as XML when `media` is an XML type, else as JSON."""
    if media not in XML_MEDIA_TYPES:
        return parse_json(raw)
    try:
        return parse_xml(raw)
    except InvalidXml as exc:
        raise InvalidRequest(exc.message, issues=[Issue("error", "structure", exc.message, exc.location)]) from exc


def parse_json(raw: bytes) -> Any:
    """`raw` as JSON with exact decimals; InvalidRequest if it is not JSON or an object repeats a key."""
    try:
        return loads(raw, unique_keys=True)
    except InvalidJson as exc:
        if not exc.duplicates:
            raise InvalidRequest(_("The body is not valid JSON: {error}").format(error=exc)) from exc
        repeated = _("The key '{key}' appears more than once in one object")
        issues = [Issue("error", "structure", repeated.format(key=key), where) for key, where in exc.duplicates]
        raise InvalidRequest(issues[0].diagnostics, issues=issues) from exc
