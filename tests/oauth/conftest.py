"""One authorization-server test server (dynamic registration on), and the steps of a SMART launch.

The login and consent pages are built elsewhere: `approve()` does what they do when the user
says yes (issue a code through the store, redirect back to the app).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from pymongo import AsyncMongoClient

from fhir_server.auth import Grant
from fhir_server.oauth.redirects import approved
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.authorizations import AuthorizationCode, MongoAuthorizationStore
from fhir_server.storage.clients import ASYMMETRIC, PUBLIC, SYMMETRIC, Client, MongoClientStore
from fhir_server.storage.grants import MongoGrantStore
from tests.conftest import ServerProcess

DATABASE = "oauth_tests"
REDIRECT = "https://app.example/callback"
T = TypeVar("T")


@pytest.fixture(scope="session")
def auth_server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log_path = tmp_path_factory.mktemp("oauth") / "server.log"
    env = {"FHIR_DYNAMIC_REGISTRATION": "true", "FHIR_BASE_URL": ""}
    process = ServerProcess(["--mongodb-uri", database.uri, "--database", DATABASE], log_path, env)
    yield process
    process.stop()


@pytest.fixture()
def http(auth_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_server.base, timeout=30, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="session")
def fhir_base(auth_server: ServerProcess) -> str:
    return f"{auth_server.base}/fhir"


def in_database(database: EmbeddedDatabase, work: Callable[[AsyncMongoClient[dict[str, Any]]], Awaitable[T]]) -> T:
    """Run `work` with a client on the test server's database, from synchronous test code."""

    async def run() -> T:
        async with AsyncMongoClient[dict[str, Any]](database.uri, tz_aware=True) as mongo:
            return await work(mongo)

    return asyncio.run(run())


def register(database: EmbeddedDatabase, kind: str = PUBLIC, *, db: str = DATABASE, **fields: Any) -> Client:
    """A new client of `kind` stored directly (in database `db`); redirect URI REDIRECT unless given."""
    fields.setdefault("redirect_uris", (REDIRECT,))
    client = Client(client_id=f"app-{uuid.uuid4().hex[:10]}", name="Test app", kind=kind, **fields)
    in_database(database, lambda mongo: MongoClientStore(mongo, db).add(client))
    return client


def issue_token(database: EmbeddedDatabase, scopes: tuple[str, ...], **fields: Any) -> str:
    """An access token for `scopes` stored directly, as if a flow had issued it."""
    now = datetime.now(UTC)
    grant = Grant("access", fields.pop("client_id", "staff-app"), scopes, now, now + timedelta(hours=1),
                  uuid.uuid4().hex, **fields)  # fmt: skip
    return in_database(database, lambda mongo: MongoGrantStore(mongo, DATABASE).issue(grant))


@dataclass
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        return cls(verifier, create_s256_code_challenge(verifier))


def authorize_params(client: Client, fhir_base: str, pkce: Pkce, scope: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uris[0],
        "scope": scope,
        "state": secrets.token_urlsafe(16),
        "aud": fhir_base,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    return {**params, **extra}


def parked_id(response: httpx.Response) -> str:
    """The parked request id of an authorize response sending the browser to the login page."""
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == "/auth/login"
    return parse_qs(location.query)["request"][0]


def approve(database: EmbeddedDatabase, request_id: str, *, db: str = DATABASE, **fields: Any) -> dict[str, str]:
    """What the consent page does on yes (in database `db`): a code for the parked request, the redirect parameters."""

    async def work(mongo: AsyncMongoClient[dict[str, Any]]) -> str:
        store = MongoAuthorizationStore(mongo, db)
        parked = await store.parked(request_id)
        assert parked is not None
        await store.unpark(request_id)
        now = datetime.now(UTC)
        fields.setdefault("patient", parked.launch_patient)
        fields.setdefault("encounter", parked.launch_encounter)
        code = AuthorizationCode(
            client_id=parked.client_id,
            redirect_uri=parked.redirect_uri,
            scopes=fields.pop("scopes", parked.scopes),
            code_challenge=parked.code_challenge,
            issued_at=now,
            expires_at=now + timedelta(minutes=1),
            nonce=parked.nonce,
            need_patient_banner=parked.ehr_launch,
            **fields,
        )
        return approved(parked, await store.issue_code(code))

    location = urlsplit(in_database(database, work))
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def code_for(
    http: httpx.Client, database: EmbeddedDatabase, client: Client, fhir_base: str, scope: str, **approval: Any
) -> tuple[str, Pkce]:
    """Authorize and approve: the code the app receives and the PKCE pair it holds."""
    pkce = Pkce.new()
    params = authorize_params(client, fhir_base, pkce, scope)
    answer = approve(database, parked_id(http.get("/auth/authorize", params=params)), **approval)
    assert answer["state"] == params["state"]
    return answer["code"], pkce


def exchange(http: httpx.Client, client: Client, code: str, pkce: Pkce, **extra: Any) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": client.redirect_uris[0],
            "code_verifier": pkce.verifier, "client_id": client.client_id}  # fmt: skip
    return http.post("/auth/token", data={**form, **extra.pop("data", {})}, **extra)


@dataclass
class SigningKey:
    """A client's key pair: its public JWKS entry and a signer of client assertions."""

    key: RSAKey | ECKey
    alg: str

    @classmethod
    def new(cls, alg: str) -> SigningKey:
        key: RSAKey | ECKey = (
            RSAKey.generate_key(2048, private=True) if alg == "RS384" else ECKey.generate_key("P-384", private=True)
        )
        key.ensure_kid()
        return cls(key, alg)

    @property
    def kid(self) -> str:
        return str(self.key.kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self.key.as_dict(private=False), "alg": self.alg}]}

    def assertion(self, client_id: str, audience: str, kid: str | None = None, **claims: Any) -> str:
        """A signed assertion; `claims` override the defaults, a None value leaves a claim out."""
        body = {"iss": client_id, "sub": client_id, "aud": audience, "exp": int(time.time()) + 240,
                "jti": uuid.uuid4().hex, **claims}  # fmt: skip
        header = {"alg": self.alg, "kid": kid or self.kid, "typ": "JWT"}
        return jwt.encode(header, {k: v for k, v in body.items() if v is not None}, self.key, algorithms=[self.alg])


def assertion_form(key: SigningKey, client_id: str, token_url: str, **claims: Any) -> dict[str, str]:
    return {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": key.assertion(client_id, token_url, **claims),
    }


class JwksServer:
    """A tiny HTTP server publishing a JWKS, standing in for a client's jwks_uri; counts fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.fetches += 1
                body = orjson.dumps(owner.document)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


__all__ = ["ASYMMETRIC", "PUBLIC", "SYMMETRIC"]
