"""RFC 6749 §4.1.2 on a server enforcing tokens: once a code is presented twice, the tokens it
already gave stop working on /fhir too (401), not just at introspection."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from pymongo import AsyncMongoClient

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.authorizations import AuthorizationCode, MongoAuthorizationStore
from fhir_server.storage.clients import PUBLIC, Client, MongoClientStore
from tests.auth_server import AUTH_DATABASE
from tests.conftest import ServerProcess

REDIRECT = "https://app.example/callback"


async def _client_and_code(uri: str, client: Client, challenge: str) -> str:
    now = datetime.now(UTC)
    code = AuthorizationCode(client.client_id, REDIRECT, ("user/Patient.rs", "offline_access"), challenge, now,
                             now + timedelta(minutes=1), subject="dr-reuse", role="physician")  # fmt: skip
    async with AsyncMongoClient[dict[str, Any]](uri, tz_aware=True) as mongo:
        await MongoClientStore(mongo, AUTH_DATABASE).add(client)
        return await MongoAuthorizationStore(mongo, AUTH_DATABASE).issue_code(code)


def test_a_reused_code_locks_its_tokens_out_of_the_fhir_api(
    database: EmbeddedDatabase, auth_server: ServerProcess
) -> None:
    client = Client(f"reuse-{uuid.uuid4().hex[:8]}", "Reuse test", PUBLIC, (REDIRECT,))
    verifier = secrets.token_urlsafe(48)
    code = asyncio.run(_client_and_code(database.uri, client, create_s256_code_challenge(verifier)))
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
            "client_id": client.client_id}  # fmt: skip
    with httpx.Client(base_url=auth_server.base, timeout=30) as http:
        tokens = http.post("/auth/token", data=form).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert http.get("/fhir/Patient", params={"_count": "1"}, headers=bearer).status_code == 200
        again = http.post("/auth/token", data=form)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        refused = http.get("/fhir/Patient", params={"_count": "1"}, headers=bearer)
        assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                   "client_id": client.client_id}  # fmt: skip
        assert http.post("/auth/token", data=refresh).json()["error"] == "invalid_grant"
