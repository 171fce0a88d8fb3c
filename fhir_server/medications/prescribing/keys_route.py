"""`GET /.well-known/prescriber-keys.json`: the JWKS of every prescriber's public signing key, to verify the
JWS of a prescription's Provenance.signature (public, like any JWKS)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ...storage.database import Database

router = APIRouter()
PATH = "/.well-known/prescriber-keys.json"


@router.get(PATH, include_in_schema=False)
async def prescriber_keys(request: Request) -> JSONResponse:
    database: Database = request.app.state.database
    return JSONResponse({"keys": await database.prescriber_keys.public_keys()}, headers={"Cache-Control": "no-cache"})
