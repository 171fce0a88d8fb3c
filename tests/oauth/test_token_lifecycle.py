"""After the code: refresh (narrow, never widen), revocation of a whole family, introspection, id_token."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from fhir_server.oauth.client_auth import hash_secret
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.clients import Client

from .conftest import SYMMETRIC, Pkce, approve, authorize_params, code_for, exchange, issue_token, parked_id, register

OFFLINE = "launch/patient patient/Observation.rs patient/Patient.rs openid fhirUser offline_access"


@pytest.fixture()
def app(database: EmbeddedDatabase) -> Client:
    return register(database)


@pytest.fixture()
def tokens(http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str) -> dict[str, Any]:
    code, pkce = code_for(http, database, app, fhir_base, OFFLINE, patient="p-7", encounter="e-7", subject="user-7",
                          fhir_user="Patient/p-7", role="patient")  # fmt: skip
    response = exchange(http, app, code, pkce)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh(http: httpx.Client, app: Client, token: str, **extra: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": app.client_id, **extra}
    return http.post("/auth/token", data=form)


def introspect(http: httpx.Client, token: str, bearer: str) -> dict[str, Any]:
    response = http.post("/auth/introspect", data={"token": token}, headers={"Authorization": f"Bearer {bearer}"})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def test_offline_access_gets_a_refresh_token_that_keeps_the_context(
    http: httpx.Client, app: Client, tokens: dict[str, Any]
) -> None:
    assert tokens["refresh_token"] and tokens["encounter"] == "e-7"
    response = refresh(http, app, tokens["refresh_token"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == OFFLINE and body["patient"] == "p-7" and body["encounter"] == "e-7"
    assert body["access_token"] != tokens["access_token"] and body["refresh_token"] == tokens["refresh_token"]
    assert body["id_token"] and isinstance(body["expires_in"], int)
    assert response.headers["cache-control"] == "no-store"


def test_refresh_may_narrow_but_never_widen(http: httpx.Client, app: Client, tokens: dict[str, Any]) -> None:
    narrowed = refresh(http, app, tokens["refresh_token"], scope="patient/Observation.rs launch/patient")
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "patient/Observation.rs launch/patient"
    assert "id_token" not in narrowed.json()
    for wider in ("patient/Condition.rs", "patient/Observation.cruds", "user/*.rs", "patient/Observation.rx"):
        response = refresh(http, app, tokens["refresh_token"], scope=wider)
        assert response.status_code == 400 and response.json()["error"] == "invalid_scope", wider
    still = refresh(http, app, tokens["refresh_token"])  # the refresh token keeps its full scope
    assert still.status_code == 200 and still.json()["scope"] == OFFLINE


def test_refresh_refusals(http: httpx.Client, database: EmbeddedDatabase, app: Client, tokens: dict[str, Any]) -> None:
    other = register(database)
    assert refresh(http, other, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(http, app, tokens["access_token"]).json()["error"] == "invalid_grant"  # not a refresh token
    assert refresh(http, app, "no-such-token").json()["error"] == "invalid_grant"
    missing = http.post("/auth/token", data={"grant_type": "refresh_token", "client_id": app.client_id})
    assert missing.json()["error"] == "invalid_request"


def test_online_access_gets_a_refresh_token_too(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str
) -> None:
    code, pkce = code_for(http, database, app, fhir_base, "patient/*.rs online_access", patient="p-1")
    assert exchange(http, app, code, pkce).json()["refresh_token"]


def test_revoking_the_refresh_token_stops_every_token_of_the_family(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, tokens: dict[str, Any]
) -> None:
    later = refresh(http, app, tokens["refresh_token"]).json()["access_token"]
    staff = issue_token(database, ("user/*.rs",))
    assert introspect(http, later, staff)["active"]
    response = http.post("/auth/revoke", data={"token": tokens["refresh_token"], "client_id": app.client_id})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    for token in (tokens["access_token"], later, tokens["refresh_token"]):
        assert introspect(http, token, staff) == {"active": False}
    assert refresh(http, app, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoking_the_access_token_stops_the_refresh_token(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, tokens: dict[str, Any]
) -> None:
    response = http.post("/auth/revoke", data={"token": tokens["access_token"], "client_id": app.client_id,
                                               "token_type_hint": "access_token"})  # fmt: skip
    assert response.status_code == 200
    assert refresh(http, app, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revocation_answers_200_for_unknown_tokens_and_leaves_other_clients_tokens(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, tokens: dict[str, Any]
) -> None:
    other = register(database)
    assert http.post("/auth/revoke", data={"token": "no-such-token", "client_id": app.client_id}).status_code == 200
    hint = {"token_type_hint": "refresh_token"}
    answer = http.post("/auth/revoke", data={"token": tokens["refresh_token"], "client_id": other.client_id, **hint})
    assert answer.status_code == 200
    assert refresh(http, app, tokens["refresh_token"]).status_code == 200
    no_token = http.post("/auth/revoke", data={"client_id": app.client_id})
    assert no_token.status_code == 400 and no_token.json()["error"] == "invalid_request"
    assert http.post("/auth/revoke", data={"token": "x"}).status_code == 401


def test_introspection_reports_the_smart_fields(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, tokens: dict[str, Any], fhir_base: str
) -> None:
    staff = issue_token(database, ("user/*.rs",))
    body = introspect(http, tokens["access_token"], staff)
    assert body["active"] is True and body["scope"] == OFFLINE and body["client_id"] == app.client_id
    assert isinstance(body["exp"], int) and body["exp"] > time.time() and isinstance(body["iat"], int)
    assert body["patient"] == "p-7" and body["encounter"] == "e-7" and body["token_type"] == "Bearer"
    assert body["iss"] == fhir_base and body["sub"] == "user-7" and body["fhirUser"] == f"{fhir_base}/Patient/p-7"
    refresh_info = introspect(http, tokens["refresh_token"], staff)
    assert refresh_info["active"] and "token_type" not in refresh_info
    assert introspect(http, "no-such-token", staff) == {"active": False}


def test_introspection_needs_a_confidential_client_or_a_live_bearer(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, tokens: dict[str, Any]
) -> None:
    form = {"token": tokens["access_token"]}
    public = http.post("/auth/introspect", data={**form, "client_id": app.client_id})
    assert public.status_code == 401 and public.json()["error"] == "invalid_client"
    dead = http.post("/auth/introspect", data=form, headers={"Authorization": "Bearer no-such-token"})
    assert dead.status_code == 401 and dead.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    confidential = register(database, SYMMETRIC, secret_hash=hash_secret("pw"))
    credentials = base64.b64encode(f"{confidential.client_id}:pw".encode()).decode()
    answer = http.post("/auth/introspect", data=form, headers={"Authorization": f"Basic {credentials}"})
    assert answer.status_code == 200 and answer.json()["active"] is True


def test_the_id_token_verifies_against_the_jwks(
    http: httpx.Client, app: Client, tokens: dict[str, Any], fhir_base: str
) -> None:
    keys = KeySet.import_key_set(http.get("/auth/jwks").json())
    token = jwt.decode(tokens["id_token"], keys, algorithms=["RS256"])
    assert token.header["alg"] == "RS256" and token.header["kid"] == keys.keys[0].kid
    claims = token.claims
    assert claims["iss"] == fhir_base and claims["aud"] == app.client_id and claims["sub"] == "user-7"
    assert claims["fhirUser"] == f"{fhir_base}/Patient/p-7"
    assert claims["exp"] > time.time() >= claims["iat"] - 5
    openid = http.get(claims["iss"] + "/.well-known/openid-configuration").json()
    assert openid["issuer"] == claims["iss"]


def test_the_id_token_carries_the_nonce_and_needs_openid(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str
) -> None:
    pkce = Pkce.new()
    params = authorize_params(app, fhir_base, pkce, "openid fhirUser user/*.rs", nonce="nonce-42")
    answer = approve(database, parked_id(http.get("/auth/authorize", params=params)), subject="u-2",
                     fhir_user="Practitioner/dr-2")  # fmt: skip
    body = exchange(http, app, answer["code"], pkce).json()
    claims = jwt.decode(body["id_token"], KeySet.import_key_set(http.get("/auth/jwks").json())).claims
    assert claims["nonce"] == "nonce-42" and claims["fhirUser"] == f"{fhir_base}/Practitioner/dr-2"
    code, pkce = code_for(
        http, database, app, fhir_base, "fhirUser user/*.rs", subject="u-2", fhir_user="Practitioner/dr-2"
    )
    assert "id_token" not in exchange(http, app, code, pkce).json()
