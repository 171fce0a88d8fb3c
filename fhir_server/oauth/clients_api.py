"""Registering clients over HTTP: the administrators' `/auth/clients` API and RFC 7591 dynamic
registration at `/auth/register` (public apps only, off unless `dynamic_registration` is set).

Both take RFC 7591 client metadata as JSON (registration.py) and answer with it, plus the
generated secret of a symmetric client, once. Errors are RFC 7591 JSON bodies.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from ..rest.context import settings_of
from ..storage.clients import ClientExists
from .bearer import admin_grant
from .errors import NO_STORE
from .registration import RegistrationError, client_metadata, registration
from .state import oauth_of

router = APIRouter()


def _error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=NO_STORE)


async def _register(request: Request, *, dynamic: bool) -> Response:
    try:
        metadata: Any = await request.json()
    except ValueError:
        return _error(400, "invalid_client_metadata", "The body must be a JSON object of client metadata.")
    if not isinstance(metadata, dict):
        return _error(400, "invalid_client_metadata", "The body must be a JSON object of client metadata.")
    try:
        registered = registration(metadata, dynamic=dynamic)
        await oauth_of(request).clients.add(registered.client)
    except RegistrationError as exc:
        return _error(400, exc.error, str(exc))
    except ClientExists as exc:
        return _error(409, "invalid_client_metadata", str(exc))
    body = {**client_metadata(registered.client), "client_id_issued_at": int(time.time())}
    if registered.secret:
        body.update(client_secret=registered.secret, client_secret_expires_at=0)
    return JSONResponse(body, status_code=201, headers=NO_STORE)


@router.post("/auth/register", include_in_schema=False)
async def register_dynamically(request: Request) -> Response:
    if not settings_of(request).dynamic_registration:
        return _error(403, "access_denied", "Dynamic client registration is not enabled on this server.")
    return await _register(request, dynamic=True)


@router.get("/auth/clients", include_in_schema=False)
async def list_clients(request: Request) -> Response:
    await admin_grant(request)
    return JSONResponse([client_metadata(c) for c in await oauth_of(request).clients.all()], headers=NO_STORE)


@router.post("/auth/clients", include_in_schema=False)
async def add_client(request: Request) -> Response:
    await admin_grant(request)
    return await _register(request, dynamic=False)


@router.get("/auth/clients/{client_id}", include_in_schema=False)
async def read_client(request: Request, client_id: str) -> Response:
    await admin_grant(request)
    client = await oauth_of(request).clients.get(client_id)
    if client is None:
        return _error(404, "invalid_client", f"No client {client_id} is registered.")
    return JSONResponse(client_metadata(client), headers=NO_STORE)


@router.delete("/auth/clients/{client_id}", include_in_schema=False)
async def remove_client(request: Request, client_id: str) -> Response:
    await admin_grant(request)
    if not await oauth_of(request).clients.remove(client_id):
        return _error(404, "invalid_client", f"No client {client_id} is registered.")
    return Response(status_code=204)
