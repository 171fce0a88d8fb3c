"""Read and vread of a well-formed `[type]/[id]`, answered in front of the framework's routing.

Reads are most of what a FHIR server is asked, and per read FastAPI's route matching, dependency
solving and exception middleware cost the server more CPU than its database call does
(benchmarks/crud.py). This pure ASGI layer sits inside the middlewares every FHIR request passes
(request id and language, audit, CORS, format negotiation) and answers `GET [base]/[type]/[id]` and
`GET [base]/[type]/[id]/_history/[vid]` itself, through the routes' own functions: the caller's
policy (`policy_of`), the engine's read, `resource_response` (ETag, Last-Modified, 304) and the
FhirError handler. Anything else, a type or id that is not well-formed included, goes on to the
routes in read.py, which answer it as they always have.

The generated OperationDefinitions (`OperationDefinition/[operation]`) are not stored resources: their
route answers them (rest/operations/routes.py).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import engine
from ..engine.identity import ID_PATTERN
from ..errors import FhirError
from .access import policy_of
from .context import store_of
from .errors import on_fhir_error
from .read import resource_response

_READ = re.compile(rf"/fhir/([A-Z][A-Za-z]{{0,63}})/({ID_PATTERN})(?:/_history/([^/]+))?")
"""`[base]/[type]/[id]` or `.../_history/[vid]`: a type's name and a FHIR id (engine/identity.py)."""

_NOT_STORED = "OperationDefinition"


class DirectReadMiddleware:
    """Pure ASGI: answers reads and vreads of well-formed paths, passes every other request on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _READ.fullmatch(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        if match is None or match[1] == _NOT_STORED:
            await self.app(scope, receive, send)
            return
        resource_type, resource_id, version_id = match.groups()
        request = Request(scope, receive)
        try:
            policy = await policy_of(request)
            store = store_of(request)
            if version_id is None:
                record = await engine.read_resource(store, policy, resource_type, resource_id)
            else:
                record = await engine.read_version(store, policy, resource_type, resource_id, version_id)
            response = resource_response(request, record)
        except FhirError as exc:
            response = await on_fhir_error(request, exc)
        await response(scope, receive, send)
