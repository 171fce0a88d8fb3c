"""The token endpoint: the code flow for public, symmetric and asymmetric clients, and every refusal."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from fhir_server.oauth.client_auth import hash_secret
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.clients import Client

from .conftest import (
    ASYMMETRIC,
    SYMMETRIC,
    JwksServer,
    SigningKey,
    assertion_form,
    code_for,
    exchange,
    issue_token,
    register,
)

SCOPE = "launch/patient patient/*.rs openid fhirUser"


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def refused(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["error"] == error, body
    description: str = body.get("error_description", "")
    return description


@pytest.fixture()
def public_app(database: EmbeddedDatabase) -> Client:
    return register(database)


def test_public_client_code_flow_end_to_end(
    http: httpx.Client, database: EmbeddedDatabase, public_app: Client, fhir_base: str
) -> None:
    code, pkce = code_for(http, database, public_app, fhir_base, SCOPE, patient="p-1", subject="u-1",
                          fhir_user="Patient/p-1")  # fmt: skip
    response = exchange(http, public_app, code, pkce)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store" and response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer" and isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert body["scope"] == SCOPE and body["patient"] == "p-1"
    assert body["access_token"] and body["id_token"]
    assert body["need_patient_banner"] is False
    assert body["smart_style_url"] == fhir_base.removesuffix("/fhir") + "/auth/style"
    assert "refresh_token" not in body  # neither offline_access nor online_access
    assert "encounter" not in body


def test_a_code_is_redeemed_once(http: httpx.Client, database: EmbeddedDatabase, public_app: Client,
                                 fhir_base: str) -> None:  # fmt: skip
    code, pkce = code_for(http, database, public_app, fhir_base, SCOPE, patient="p-1")
    assert exchange(http, public_app, code, pkce).status_code == 200
    assert "already used" in refused(exchange(http, public_app, code, pkce), 400, "invalid_grant")


def test_a_reused_code_revokes_every_token_issued_from_it(
    http: httpx.Client, database: EmbeddedDatabase, public_app: Client, fhir_base: str
) -> None:
    code, pkce = code_for(http, database, public_app, fhir_base, SCOPE + " offline_access", patient="p-1")
    first = exchange(http, public_app, code, pkce).json()
    refresh_form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                    "client_id": public_app.client_id}  # fmt: skip
    refreshed = http.post("/auth/token", data=refresh_form).json()["access_token"]
    staff = issue_token(database, ("user/*.rs",))
    bearer = {"Authorization": f"Bearer {staff}"}
    assert http.post("/auth/introspect", data={"token": first["access_token"]}, headers=bearer).json()["active"]
    assert "revoked" in refused(exchange(http, public_app, code, pkce), 400, "invalid_grant")
    for token in (first["access_token"], first["refresh_token"], refreshed):
        answer = http.post("/auth/introspect", data={"token": token}, headers=bearer)
        assert answer.json() == {"active": False}
    assert refused(http.post("/auth/token", data=refresh_form), 400, "invalid_grant")
    other, other_pkce = code_for(http, database, public_app, fhir_base, SCOPE, patient="p-1")
    kept = exchange(http, public_app, other, other_pkce).json()["access_token"]  # another code's tokens live on
    assert http.post("/auth/introspect", data={"token": kept}, headers=bearer).json()["active"] is True


@pytest.mark.parametrize(
    ("change", "error", "mentions"),
    [
        ({"code_verifier": "x" * 43}, "invalid_grant", "code_verifier"),
        ({"code_verifier": "short"}, "invalid_request", "code_verifier"),
        ({"code_verifier": None}, "invalid_request", "code_verifier"),
        ({"redirect_uri": "https://app.example/other"}, "invalid_grant", "redirect_uri"),
        ({"redirect_uri": None}, "invalid_request", "redirect_uri"),
        ({"code": "no-such-code"}, "invalid_grant", "unknown"),
    ],
)
def test_code_exchange_refusals(
    http: httpx.Client, database: EmbeddedDatabase, public_app: Client, fhir_base: str,
    change: dict[str, str | None], error: str, mentions: str,
) -> None:  # fmt: skip
    code, pkce = code_for(http, database, public_app, fhir_base, SCOPE, patient="p-1")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": public_app.redirect_uris[0],
            "code_verifier": pkce.verifier, "client_id": public_app.client_id, **change}  # fmt: skip
    response = http.post("/auth/token", data={k: v for k, v in form.items() if v is not None})
    assert mentions in refused(response, 400, error)


def test_a_code_of_another_client_is_refused(
    http: httpx.Client, database: EmbeddedDatabase, public_app: Client, fhir_base: str
) -> None:
    other = register(database)
    code, pkce = code_for(http, database, public_app, fhir_base, SCOPE, patient="p-1")
    assert "another client" in refused(exchange(http, other, code, pkce), 400, "invalid_grant")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code", "client_id": "no-such-app"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code", "client_id": "x", "client_secret": "y"}, 401, "invalid_client"),
    ],
)
def test_token_request_refusals(http: httpx.Client, form: dict[str, str], status: int, error: str) -> None:
    refused(http.post("/auth/token", data=form), status, error)


def test_token_requests_must_be_forms_without_repeats(http: httpx.Client, public_app: Client) -> None:
    refused(http.post("/auth/token", json={"grant_type": "authorization_code"}), 400, "invalid_request")
    repeated = "grant_type=authorization_code&grant_type=refresh_token"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert "repeated" in refused(http.post("/auth/token", content=repeated, headers=headers), 400, "invalid_request")


def test_symmetric_client_authenticates_with_basic(
    http: httpx.Client, database: EmbeddedDatabase, fhir_base: str
) -> None:
    app = register(database, SYMMETRIC, secret_hash=hash_secret("s3cret"))
    code, pkce = code_for(http, database, app, fhir_base, SCOPE, patient="p-1")
    wrong = exchange(http, app, code, pkce, headers=basic(app.client_id, "wrong"))
    assert "secret" in refused(wrong, 401, "invalid_client")
    assert wrong.headers["www-authenticate"].startswith("Basic")
    code, pkce = code_for(http, database, app, fhir_base, SCOPE, patient="p-1")
    assert "must authenticate" in refused(exchange(http, app, code, pkce), 401, "invalid_client")
    code, pkce = code_for(http, database, app, fhir_base, SCOPE, patient="p-1")
    response = exchange(http, app, code, pkce, headers=basic(app.client_id, "s3cret"))
    assert response.status_code == 200 and response.json()["patient"] == "p-1"


def test_symmetric_client_authenticates_with_client_secret_post(
    http: httpx.Client, database: EmbeddedDatabase, fhir_base: str
) -> None:
    app = register(database, SYMMETRIC, secret_hash=hash_secret("s3cret"))
    code, pkce = code_for(http, database, app, fhir_base, SCOPE, patient="p-1")
    wrong = exchange(http, app, code, pkce, data={"client_secret": "wrong"})
    assert "Wrong client secret" in refused(wrong, 401, "invalid_client")
    code, pkce = code_for(http, database, app, fhir_base, SCOPE, patient="p-1")
    response = exchange(http, app, code, pkce, data={"client_secret": "s3cret"})
    assert response.status_code == 200, response.text
    assert response.json()["patient"] == "p-1"
    code, pkce = code_for(http, database, app, fhir_base, SCOPE, patient="p-1")
    both = exchange(http, app, code, pkce, data={"client_secret": "s3cret"}, headers=basic(app.client_id, "s3cret"))
    assert "one client authentication method" in refused(both, 400, "invalid_request")
    public = register(database)
    code, pkce = code_for(http, database, public, fhir_base, SCOPE, patient="p-1")
    posing = exchange(http, public, code, pkce, data={"client_secret": "anything"})
    assert "client secret" in refused(posing, 401, "invalid_client")
    nameless = http.post("/auth/token", data={"grant_type": "authorization_code", "client_secret": "s3cret"})
    refused(nameless, 401, "invalid_client")


def test_basic_credentials_must_be_well_formed_and_not_mixed(http: httpx.Client) -> None:
    form = {"grant_type": "authorization_code"}
    refused(http.post("/auth/token", data=form, headers={"Authorization": "Basic !!!"}), 401, "invalid_client")
    no_colon = {"Authorization": "Basic " + base64.b64encode(b"just-an-id").decode()}
    refused(http.post("/auth/token", data=form, headers=no_colon), 401, "invalid_client")
    mixed = {**form, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    refused(http.post("/auth/token", data=mixed, headers=basic("a", "b")), 400, "invalid_request")


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_asymmetric_client_code_flow(http: httpx.Client, database: EmbeddedDatabase, fhir_base: str, alg: str) -> None:
    key = SigningKey.new(alg)
    app = register(database, ASYMMETRIC, jwks=key.jwks())
    token_url = fhir_base.removesuffix("/fhir") + "/auth/token"
    code, pkce = code_for(http, database, app, fhir_base, SCOPE, patient="p-1")
    response = exchange(http, app, code, pkce, data=assertion_form(key, app.client_id, token_url))
    assert response.status_code == 200, response.text
    assert response.json()["patient"] == "p-1"


class TestAssertionRefusals:
    """private_key_jwt: each flaw of the assertion is invalid_client (401)."""

    @pytest.fixture()
    def setup(self, database: EmbeddedDatabase, fhir_base: str) -> tuple[SigningKey, Client, str]:
        key = SigningKey.new("RS384")
        app = register(database, ASYMMETRIC, jwks=key.jwks(), scopes=("system/*.rs",))
        return key, app, fhir_base.removesuffix("/fhir") + "/auth/token"

    def post(self, http: httpx.Client, form: dict[str, str]) -> httpx.Response:
        return http.post("/auth/token", data={"grant_type": "client_credentials", "scope": "system/*.rs", **form})

    @pytest.mark.parametrize(
        ("claims", "mentions"),
        [
            ({"exp": int(time.time()) - 60}, "expired"),
            ({"exp": None}, "expired"),
            ({"exp": int(time.time()) + 600}, "five minutes"),
            ({"aud": "https://elsewhere.example/token"}, "aud"),
            ({"jti": None}, "jti"),
            ({"sub": "someone-else"}, "iss and sub"),
            ({"kid": "no-such-kid"}, "kid"),
        ],
    )
    def test_flawed_assertions(
        self, http: httpx.Client, setup: tuple[SigningKey, Client, str], claims: dict[str, object], mentions: str
    ) -> None:
        key, app, token_url = setup
        response = self.post(http, assertion_form(key, app.client_id, token_url, **claims))
        assert mentions in refused(response, 401, "invalid_client")

    def test_a_replayed_jti_is_refused(self, http: httpx.Client, setup: tuple[SigningKey, Client, str]) -> None:
        key, app, token_url = setup
        form = assertion_form(key, app.client_id, token_url)
        assert self.post(http, form).status_code == 200
        assert "used before" in refused(self.post(http, form), 401, "invalid_client")

    def test_a_signature_by_another_key_is_refused(
        self, http: httpx.Client, setup: tuple[SigningKey, Client, str]
    ) -> None:
        key, app, token_url = setup
        impostor = SigningKey.new("RS384")
        form = assertion_form(impostor, app.client_id, token_url, kid=key.kid)
        assert "signature" in refused(self.post(http, form), 401, "invalid_client")

    def test_other_algorithms_and_garbage_are_refused(
        self, http: httpx.Client, setup: tuple[SigningKey, Client, str]
    ) -> None:
        _key, app, token_url = setup
        rs256 = SigningKey(SigningKey.new("RS384").key, "RS256")
        assert "RS384" in refused(self.post(http, assertion_form(rs256, app.client_id, token_url)), 401,
                                  "invalid_client")  # fmt: skip
        garbage = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                   "client_assertion": "not.a.jwt"}  # fmt: skip
        refused(self.post(http, garbage), 401, "invalid_client")
        wrong_type = {"client_assertion_type": "urn:example:other", "client_assertion": "x"}
        refused(self.post(http, wrong_type), 401, "invalid_client")

    def test_a_public_client_cannot_sign_in_as_asymmetric(
        self, http: httpx.Client, database: EmbeddedDatabase, setup: tuple[SigningKey, Client, str]
    ) -> None:
        key, _app, token_url = setup
        public = register(database)
        refused(self.post(http, assertion_form(key, public.client_id, token_url)), 401, "invalid_client")


def test_keys_fetched_from_the_jwks_uri_and_refetched_for_a_new_kid(
    http: httpx.Client, database: EmbeddedDatabase, fhir_base: str, jwks_server: JwksServer
) -> None:
    first, second = SigningKey.new("ES384"), SigningKey.new("RS384")
    jwks_server.document = first.jwks()
    token_url = fhir_base.removesuffix("/fhir") + "/auth/token"

    def token(key: SigningKey, app: Client) -> httpx.Response:
        form = {"grant_type": "client_credentials", "scope": "system/Patient.rs"}
        return http.post("/auth/token", data={**form, **assertion_form(key, app.client_id, token_url)})

    app = register(database, ASYMMETRIC, jwks_uri=jwks_server.url, scopes=("system/Patient.rs",))
    assert token(first, app).status_code == 200 and token(first, app).status_code == 200
    assert jwks_server.fetches == 1  # cached
    jwks_server.document = {"keys": [*first.jwks()["keys"], *second.jwks()["keys"]]}  # the client rotates
    assert token(second, app).status_code == 200
    assert jwks_server.fetches == 2
    jwks_server.close()
    gone = register(database, ASYMMETRIC, jwks_uri=jwks_server.url + "?gone", scopes=("system/Patient.rs",))
    assert "could not be fetched" in refused(token(first, gone), 401, "invalid_client")
