"""FHIR create: POST [base]/{type}, conditional with If-None-Exist. https://hl7.org/fhir/R4/http.html#create"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from .access import Policy
from .body import check_media_type, read_json
from .context import settings_of, store_of
from .writes import write_response

router = APIRouter()


@router.post("/{resource_type:type_segment}", name="create")
async def create(resource_type: str, request: Request, policy: Policy) -> Response:
    engine.check_resource_type(resource_type)
    check_media_type(request)
    body = await read_json(request, settings_of(request).max_body_bytes)
    criteria = request.headers.get("if-none-exist")
    if criteria is not None:
        query = parse_qsl(criteria.split("?", 1)[-1], keep_blank_values=True)
        result = await engine.conditional_create(store_of(request), policy, resource_type, body, query)
    else:
        result = await engine.create_resource(store_of(request), policy, resource_type, body)
    return write_response(request, result)
