"""401 without a usable token, 403 for what a valid token does not allow; public routes stay public."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
from pymongo import AsyncMongoClient

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.clients import PUBLIC, Client, MongoClientStore
from fhir_server.storage.grants import GRANT_CACHE_SECONDS, MongoGrantStore
from tests.auth_server import AUTH_DATABASE, Mint, World, outcome_text

T = TypeVar("T")


def test_no_token_is_401_with_a_bearer_challenge(connect: Callable[..., httpx.Client], auth_base: str) -> None:
    with connect() as client:
        response = client.get("/Patient")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Bearer realm="{auth_base}"'
    assert response.json()["issue"][0]["code"] == "login"


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer", "Basic dXNlcjpwYXNz"])
def test_unusable_tokens_are_401(auth_base: str, header: str) -> None:
    response = httpx.get(f"{auth_base}/Patient", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")
    if header.startswith("Bearer not"):
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_expired_token_is_401(connect: Callable[..., httpx.Client]) -> None:
    with connect("user/*.rs", role="physician", lifetime=timedelta(seconds=-1)) as client:
        response = client.get("/Patient")
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


async def _in_database(uri: str, work: Callable[[AsyncMongoClient[dict[str, Any]]], Awaitable[T]]) -> T:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        return await work(client)
    finally:
        await client.close()


def _refused(response: httpx.Response) -> bool:
    return response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_token_revoked_elsewhere_stops_working_within_the_cache_bound(
    auth_base: str, mint: Mint, database: EmbeddedDatabase
) -> None:
    """Revoked by another process (here: this one, straight in the database), the server's cached grant
    lasts at most GRANT_CACHE_SECONDS."""
    token = mint("user/*.rs", role="physician")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{auth_base}/Patient", headers=headers).status_code == 200  # now in the server's cache
    assert asyncio.run(_in_database(database.uri, lambda mongo: MongoGrantStore(mongo, AUTH_DATABASE).revoke(token)))
    deadline = time.monotonic() + GRANT_CACHE_SECONDS + 10  # the margin is for a loaded machine, not asserted
    while not _refused(response := httpx.get(f"{auth_base}/Patient", headers=headers)):
        assert response.status_code == 200
        assert time.monotonic() < deadline, "the revoked token still works after the cache bound"
        time.sleep(0.2)


def test_token_revoked_through_the_server_stops_at_once(auth_base: str, mint: Mint, database: EmbeddedDatabase) -> None:
    """/auth/revoke drops the token's whole family from the cache of the worker that revoked it."""
    client = Client(client_id=f"app-{uuid.uuid4().hex[:10]}", name="Revoking app", kind=PUBLIC,
                    redirect_uris=("https://app.example/callback",))  # fmt: skip
    asyncio.run(_in_database(database.uri, lambda mongo: MongoClientStore(mongo, AUTH_DATABASE).add(client)))
    token = mint("user/*.rs", role="physician", client_id=client.client_id)
    headers = {"Authorization": f"Bearer {token}"}
    root = auth_base.removesuffix("/fhir")
    assert httpx.get(f"{auth_base}/Patient", headers=headers).status_code == 200
    revoked = httpx.post(f"{root}/auth/revoke", data={"token": token, "client_id": client.client_id})
    assert revoked.status_code == 200
    assert _refused(httpx.get(f"{auth_base}/Patient", headers=headers))


@pytest.mark.parametrize("path", ["/fhir/metadata", "/healthz", "/readyz"])
def test_public_routes_need_no_token(auth_base: str, path: str) -> None:
    response = httpx.get(auth_base.removesuffix("/fhir") + path)
    assert response.status_code == 200


def test_type_not_granted_is_403_naming_the_scope(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("user/Patient.rs", role="physician") as client:
        response = client.get(f"/Observation/{world.lab['a']}")
        assert response.status_code == 403
        assert "user/Observation.r" in outcome_text(response)
        assert client.get("/Observation").status_code == 403


def test_interaction_not_granted_is_403(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("user/Patient.r", role="physician") as client:
        assert client.get(f"/Patient/{world.patient['a']}").status_code == 200
        assert client.get("/Patient").status_code == 403  # no `s`
        response = client.post("/Patient", json={"resourceType": "Patient"})
        assert response.status_code == 403
        assert "create" in outcome_text(response)
        assert client.delete(f"/Patient/{world.patient['a']}").status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/$reindex"),
        ("POST", "/Patient/$reindex"),
        ("GET", "/_jobs/x"),
        ("GET", "/$export"),
        ("POST", "/$import"),
    ],
)
def test_system_operations_refuse_user_tokens(connect: Callable[..., httpx.Client], method: str, path: str) -> None:
    with connect("user/*.cruds", role="admin") as client:
        response = client.request(method, path, headers={"Prefer": "respond-async"})
    assert response.status_code == 403, response.text
    assert "system/" in outcome_text(response)


def test_search_parameters_are_changed_by_system_scopes_only(connect: Callable[..., httpx.Client]) -> None:
    parameter = {
        "resourceType": "SearchParameter", "url": "http://example.org/sp/x", "name": "x", "status": "active",
        "description": "x", "code": "x", "base": ["Patient"], "type": "string", "expression": "Patient.id",
    }  # fmt: skip
    with connect("user/*.cruds", role="admin") as client:
        assert client.post("/SearchParameter", json=parameter).status_code == 403
