"""A server for the sign-in pages (short lockout), and helpers that work on its database directly.

Tests park authorization requests and add users and clients through the real stores, drive
the pages over real HTTP, and redeem the issued code through the store to see what was granted.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from pymongo import AsyncMongoClient

from fhir_server.auth import passwords
from fhir_server.auth.passwords import hash_password
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.authorizations import AuthorizationCode, AuthorizationRequest, MongoAuthorizationStore
from fhir_server.storage.clients import PUBLIC, Client, MongoClientStore
from fhir_server.storage.users import MongoUserStore, User
from tests.conftest import FHIR_JSON, ServerProcess

DATABASE = "pages_tests"
MAX_FAILURES, LOCK_SECONDS = 3, 2
APP = "pages-app"
REDIRECT = "http://127.0.0.1:9/callback"
PASSWORD = "correct horse battery"

T = TypeVar("T")


@pytest.fixture(scope="session")
def pages_server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log_path = tmp_path_factory.mktemp("pages") / "server.log"
    env = {"FHIR_LOGIN_MAX_FAILURES": str(MAX_FAILURES), "FHIR_LOGIN_LOCK_SECONDS": str(LOCK_SECONDS)}
    process = ServerProcess(["--mongodb-uri", database.uri, "--database", DATABASE], log_path, env)
    yield process
    process.stop()


class AuthData:
    """Direct access to the pages server's accounts, clients, parked requests and codes."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def _run(self, work: Callable[[AsyncMongoClient[dict[str, Any]]], Awaitable[T]]) -> T:
        async def scenario() -> T:
            async with AsyncMongoClient[dict[str, Any]](self.uri) as mongo:
                return await work(mongo)

        # A thread of its own: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as worker:
            return worker.submit(asyncio.run, scenario()).result()

    def user(
        self, role: str, fhir_user: str | None = None, *, active: bool = True, password_hash: str | None = None
    ) -> str:
        """A new account with PASSWORD (or `password_hash`); returns its username."""
        username = f"{role}-{uuid.uuid4().hex[:8]}"
        account = User(username, role, password_hash or hash_password(PASSWORD), fhir_user, active)
        self._run(lambda mongo: MongoUserStore(mongo, DATABASE).add(account))
        return username

    def stored_user(self, username: str) -> User | None:
        return self._run(lambda mongo: MongoUserStore(mongo, DATABASE).get(username))

    def client(
        self, scopes: tuple[str, ...] = (), name: str = "Growth Chart", launch_url: str | None = None,
        logo_uri: str | None = None,
    ) -> str:  # fmt: skip
        client_id = f"{APP}-{uuid.uuid4().hex[:8]}"
        registered = Client(client_id, name, PUBLIC, (REDIRECT,), scopes, launch_url=launch_url, logo_uri=logo_uri)
        self._run(lambda mongo: MongoClientStore(mongo, DATABASE).add(registered))
        return client_id

    def park(
        self, client_id: str, scopes: str, *, redirect_uri: str = REDIRECT, expires_in: float = 300, **extra: Any
    ) -> str:
        """Park an authorization request as the authorize endpoint would; returns its id."""
        request = AuthorizationRequest(
            id=uuid.uuid4().hex,
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=tuple(scopes.split()),
            state=f"state-{uuid.uuid4().hex[:6]}",
            code_challenge="challenge",
            expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
            **extra,
        )
        self._run(lambda mongo: MongoAuthorizationStore(mongo, DATABASE).park(request))
        return request.id

    def parked(self, request_id: str) -> AuthorizationRequest | None:
        return self._run(lambda mongo: MongoAuthorizationStore(mongo, DATABASE).parked(request_id))

    def redeem(self, code: str) -> AuthorizationCode | None:
        return self._run(lambda mongo: MongoAuthorizationStore(mongo, DATABASE).redeem_code(code))


@pytest.fixture(scope="session")
def auth_data(database: EmbeddedDatabase) -> AuthData:
    return AuthData(database.uri)


@pytest.fixture()
def browser(pages_server: ServerProcess) -> Iterator[httpx.Client]:
    """A cookie-keeping HTTP client that does not follow redirects, like a browser we can inspect."""
    with httpx.Client(base_url=pages_server.base, follow_redirects=False, timeout=30) as http:
        yield http


def csrf_of(response: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert match, response.text
    return match.group(1)


def sign_in(http: httpx.Client, request_id: str, username: str, password: str = PASSWORD) -> httpx.Response:
    """Show the sign-in form of `request_id` and post it; returns the answer to the post."""
    form = http.get("/auth/login", params={"request": request_id})
    assert form.status_code == 200, form.text
    data = {"request": request_id, "username": username, "password": password, "csrf_token": csrf_of(form)}
    return http.post("/auth/login", data=data)


def create_patient(pages_server: ServerProcess, family: str, given: str = "Ada") -> str:
    body = {"resourceType": "Patient", "name": [{"family": family, "given": [given]}], "birthDate": "1980-02-03"}
    response = httpx.post(f"{pages_server.base}/fhir/Patient", json=body, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def older_hash(password: str) -> str:
    """A valid hash of `password` made with weaker parameters than today's (n=2**14)."""
    salt = b"fedcba9876543210"
    key = passwords._derive(password, salt, 2**14, 8, 1)
    return f"scrypt$n=16384,r=8,p=1${passwords._b64(salt)}${passwords._b64(key)}"
