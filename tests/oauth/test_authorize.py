"""The authorize endpoint: refusals shown as a page until the redirect URI is trusted, then redirected."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.authorizations import MongoAuthorizationStore
from fhir_server.storage.clients import Client

from .conftest import DATABASE, Pkce, authorize_params, in_database, parked_id, register


@pytest.fixture()
def app(database: EmbeddedDatabase) -> Client:
    return register(database)


def redirected_error(response: httpx.Response, redirect_uri: str) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(redirect_uri + "?")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert "code" not in params
    return params


def test_a_valid_request_is_parked_and_sent_to_the_login_page(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str
) -> None:
    pkce = Pkce.new()
    params = authorize_params(app, fhir_base, pkce, "launch/patient openid fhirUser patient/*.rs", nonce="n-1")
    response = http.get("/auth/authorize", params=params)
    request_id = parked_id(response)
    assert response.headers["cache-control"] == "no-store"
    found = in_database(database, lambda mongo: MongoAuthorizationStore(mongo, DATABASE).parked(request_id))
    assert found is not None
    assert found.client_id == app.client_id and found.state == params["state"] and found.nonce == "n-1"
    assert found.scopes == ("launch/patient", "openid", "fhirUser", "patient/*.rs")
    assert found.code_challenge == pkce.challenge and not found.ehr_launch
    assert (found.expires_at - found.expires_at.now(found.expires_at.tzinfo)).total_seconds() > 500


def test_authorize_by_form_post(http: httpx.Client, app: Client, fhir_base: str) -> None:
    params = authorize_params(app, fhir_base, Pkce.new(), "patient/Observation.rs")
    assert parked_id(http.post("/auth/authorize", data=params))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"client_id": "no-such-app"}, "not registered"),
        ({"client_id": None}, "not registered"),
        ({"redirect_uri": "https://evil.example/callback"}, "redirect_uri"),
        ({"redirect_uri": "https://app.example/callback/"}, "redirect_uri"),
        ({"redirect_uri": None}, "redirect_uri"),
    ],
)
def test_untrusted_requests_get_a_page_never_a_redirect(
    http: httpx.Client, app: Client, fhir_base: str, change: dict[str, str | None], reason: str
) -> None:
    params = authorize_params(app, fhir_base, Pkce.new(), "patient/*.rs")
    params = {k: v for k, v in {**params, **change}.items() if v is not None}
    for response in (http.get("/auth/authorize", params=params), http.post("/auth/authorize", data=params)):
        assert response.status_code == 400
        assert "location" not in response.headers
        assert response.headers["content-type"].startswith("text/html")
        assert reason in response.text
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_a_repeated_parameter_gets_a_page(http: httpx.Client, app: Client, fhir_base: str) -> None:
    params = list(authorize_params(app, fhir_base, Pkce.new(), "patient/*.rs").items())
    response = http.get("/auth/authorize", params=[*params, ("state", "second")])
    assert response.status_code == 400 and "location" not in response.headers


@pytest.mark.parametrize(
    ("change", "error", "mentions"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request", "PKCE"),
        ({"code_challenge_method": None}, "invalid_request", "S256"),
        ({"code_challenge_method": "plain"}, "invalid_request", "S256"),
        ({"code_challenge": "short"}, "invalid_request", "malformed"),
        ({"aud": "https://other.example/fhir"}, "invalid_request", "aud"),
        ({"aud": None}, "invalid_request", "aud"),
        ({"scope": "patient/Observation.rx"}, "invalid_scope", "Observation"),
        ({"scope": ""}, "invalid_scope", "No scope"),
        ({"scope": "system/*.rs"}, "invalid_scope", "backend"),
        ({"response_type": "token"}, "unsupported_response_type", "token"),
        ({"launch": "no-such-launch", "scope": "launch patient/*.rs"}, "invalid_request", "launch"),
        ({"scope": "launch patient/*.rs"}, "invalid_request", "launch"),
    ],
)
def test_refusals_after_the_redirect_uri_is_trusted_go_back_with_state(
    http: httpx.Client, app: Client, fhir_base: str, change: dict[str, str | None], error: str, mentions: str
) -> None:
    params = authorize_params(app, fhir_base, Pkce.new(), "patient/*.rs")
    params = {k: v for k, v in {**params, **change}.items() if v is not None}
    answer = redirected_error(http.get("/auth/authorize", params=params), app.redirect_uris[0])
    assert answer["error"] == error and mentions in answer["error_description"]
    assert answer["state"] == params["state"]
    post = redirected_error(http.post("/auth/authorize", data=params), app.redirect_uris[0])
    assert post["error"] == error


def test_state_is_required(http: httpx.Client, app: Client, fhir_base: str) -> None:
    params = authorize_params(app, fhir_base, Pkce.new(), "patient/*.rs")
    del params["state"]
    answer = redirected_error(http.get("/auth/authorize", params=params), app.redirect_uris[0])
    assert answer["error"] == "invalid_request" and "state" not in answer


def test_aud_with_a_trailing_slash_is_this_server(http: httpx.Client, app: Client, fhir_base: str) -> None:
    params = authorize_params(app, fhir_base, Pkce.new(), "patient/*.rs", aud=fhir_base + "/")
    assert parked_id(http.get("/auth/authorize", params=params))
