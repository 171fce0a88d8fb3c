"""client_credentials: system scopes within what the client was pre-authorized for, no refresh token."""

from __future__ import annotations

import base64

import httpx
import pytest

from fhir_server.oauth.client_auth import hash_secret
from fhir_server.storage import EmbeddedDatabase

from .conftest import ASYMMETRIC, SYMMETRIC, SigningKey, assertion_form, issue_token, register

PRE_AUTHORIZED = ("system/Patient.rs", "system/Observation.rs")


@pytest.fixture()
def backend(database: EmbeddedDatabase, fhir_base: str) -> tuple[SigningKey, str, str]:
    key = SigningKey.new("ES384")
    client = register(database, ASYMMETRIC, jwks=key.jwks(), scopes=PRE_AUTHORIZED, redirect_uris=())
    return key, client.client_id, fhir_base.removesuffix("/fhir") + "/auth/token"


def ask(http: httpx.Client, backend: tuple[SigningKey, str, str], scope: str | None) -> httpx.Response:
    key, client_id, token_url = backend
    form = {"grant_type": "client_credentials", **assertion_form(key, client_id, token_url)}
    return http.post("/auth/token", data=form if scope is None else {**form, "scope": scope})


def test_scopes_within_the_pre_authorized_ones_are_granted_without_a_refresh_token(
    http: httpx.Client, database: EmbeddedDatabase, backend: tuple[SigningKey, str, str]
) -> None:
    response = ask(http, backend, "system/Patient.rs system/Observation.r")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "system/Patient.rs system/Observation.r" and body["token_type"] == "Bearer"
    assert "refresh_token" not in body and "id_token" not in body and "patient" not in body
    staff = issue_token(database, ("user/*.rs",))
    info = http.post("/auth/introspect", data={"token": body["access_token"]},
                     headers={"Authorization": f"Bearer {staff}"}).json()  # fmt: skip
    assert info["active"] and info["client_id"] == backend[1] and "fhirUser" not in info


def test_backend_tokens_live_five_minutes_at_most(
    http: httpx.Client, database: EmbeddedDatabase, backend: tuple[SigningKey, str, str]
) -> None:
    body = ask(http, backend, "system/Patient.rs").json()
    assert body["expires_in"] == 300  # FHIR_BACKEND_TOKEN_SECONDS, not the 3600 s of user tokens
    staff = issue_token(database, ("user/*.rs",))
    info = http.post("/auth/introspect", data={"token": body["access_token"]},
                     headers={"Authorization": f"Bearer {staff}"}).json()  # fmt: skip
    assert info["exp"] - info["iat"] == 300


def test_wider_scopes_are_cut_to_the_pre_authorized_ones(
    http: httpx.Client, backend: tuple[SigningKey, str, str]
) -> None:
    response = ask(http, backend, "system/*.rs system/Condition.rs")
    assert response.status_code == 200 and response.json()["scope"] == "system/Patient.rs system/Observation.rs"


@pytest.mark.parametrize(
    ("scope", "mentions"),
    [
        ("system/Condition.rs", "pre-authorized"),
        ("system/Patient.cud", "pre-authorized"),
        ("patient/Patient.rs", "system/ scopes only"),
        ("openid", "system/ scopes only"),
        ("system/Patient.xx", "cruds"),
        (None, "No scope"),
    ],
)
def test_scopes_outside_or_not_system_are_refused(
    http: httpx.Client, backend: tuple[SigningKey, str, str], scope: str | None, mentions: str
) -> None:
    response = ask(http, backend, scope)
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"
    assert mentions in response.json()["error_description"]


def test_only_private_key_jwt_clients_may_use_client_credentials(
    http: httpx.Client, database: EmbeddedDatabase
) -> None:
    app = register(database, SYMMETRIC, secret_hash=hash_secret("pw"), scopes=PRE_AUTHORIZED)
    credentials = base64.b64encode(f"{app.client_id}:pw".encode()).decode()
    response = http.post("/auth/token", data={"grant_type": "client_credentials", "scope": "system/Patient.rs"},
                         headers={"Authorization": f"Basic {credentials}"})  # fmt: skip
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
