"""Batch and transaction: POST [base] with a Bundle. https://hl7.org/fhir/R4/http.html#transaction"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..audit.context import EntryRead, note_bundle, note_entry_reads
from ..engine.bundle import EntryResult, process_bundle
from ..engine.identity import format_instant
from .access import Policy
from .body import check_media_type, read_json
from .bundles import searchset_bundle
from .context import base_url, settings_of, store_of
from .outcomes import error_outcome
from .paths import BASE_PATH
from .preconditions import preferred_return
from .responses import FhirResponse

router = APIRouter()


def _entry(result: EntryResult, base: str, representation: bool) -> bytes:
    response: dict[str, object] = {"status": result.status}
    record = result.record
    if record is not None:
        if result.location:
            response["location"] = f"{record.reference}/_history/{record.version_id}"
        response["etag"] = f'W/"{record.version_id}"'
        response["lastModified"] = format_instant(record.last_updated)
    if result.outcome is not None:
        response["outcome"] = error_outcome(result.outcome)
    parts = [b'{"response":', orjson.dumps(response)]
    if result.search is not None:
        page = result.search
        bundle = searchset_bundle(
            base, base, (), ("_cursor", None, None), page.page, included=page.included, warnings=page.warnings
        )
        parts += [b',"resource":', bundle]
    elif record is not None and record.body is not None and (representation or not result.location):
        parts += [b',"resource":', record.body]  # reads always carry the resource, writes on request
    if record is not None:
        parts += [b',"fullUrl":', orjson.dumps(f"{base}/{record.reference}")]
    return b"".join(parts) + b"}"


def _entry_reads(body: Any, results: list[EntryResult]) -> list[EntryRead]:
    """The read and search entries of the Bundle with the status each got, for their AuditEvents."""
    reads = []
    for raw, result in zip(body.get("entry") or [], results, strict=False):
        request = raw.get("request") if isinstance(raw, dict) else None
        if isinstance(request, dict) and request.get("method") in ("GET", "HEAD"):
            url = request.get("url")
            reads.append(EntryRead(request["method"], url if isinstance(url, str) else "", int(result.status[:3])))
    return reads


@router.post(BASE_PATH, name="bundle")
async def bundle(request: Request, policy: Policy) -> Response:
    """One Bundle in, one `batch-response` or `transaction-response` Bundle out."""
    check_media_type(request)
    body = await read_json(request, settings_of(request).max_body_bytes)
    base = base_url(request)
    if isinstance(body, dict) and body.get("type") in ("batch", "transaction"):
        note_bundle(body["type"])
    bundle_type, results = await process_bundle(store_of(request), policy, body, base)
    note_entry_reads(_entry_reads(body, results))
    representation = preferred_return(request) == "representation" and "return=" in request.headers.get("prefer", "")
    head = orjson.dumps({"resourceType": "Bundle", "type": f"{bundle_type}-response"})
    entries = b",".join(_entry(result, base, representation) for result in results)
    return FhirResponse(head[:-1] + b',"entry":[' + entries + b"]}" if results else head)
