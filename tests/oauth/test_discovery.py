"""Discovery: the SMART and OpenID configurations, the JWKS, the CapabilityStatement's security, CORS."""

from __future__ import annotations

import httpx
import pytest

from fhir_server.oauth.discovery import CAPABILITIES

from .conftest import ServerProcess


def test_smart_configuration_lists_absolute_endpoints_and_every_capability(http: httpx.Client, fhir_base: str) -> None:
    response = http.get("/fhir/.well-known/smart-configuration", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    config = response.json()
    root = fhir_base.removesuffix("/fhir")
    assert config["issuer"] == fhir_base
    assert config["jwks_uri"] == f"{root}/auth/jwks"
    assert config["authorization_endpoint"] == f"{root}/auth/authorize"
    assert config["token_endpoint"] == f"{root}/auth/token"
    assert config["introspection_endpoint"] == f"{root}/auth/introspect"
    assert config["revocation_endpoint"] == f"{root}/auth/revoke"
    assert config["registration_endpoint"] == f"{root}/auth/register"
    assert set(config["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["token_endpoint_auth_methods_supported"] == [
        "private_key_jwt", "client_secret_basic", "client_secret_post"
    ]  # fmt: skip
    assert config["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert config["response_types_supported"] == ["code"]
    assert {"openid", "fhirUser", "launch", "launch/patient", "offline_access"} <= set(config["scopes_supported"])
    assert set(config["capabilities"]) == set(CAPABILITIES)
    for capability in ("launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
                       "client-confidential-asymmetric", "sso-openid-connect", "context-banner",
                       "context-style", "context-ehr-patient", "context-ehr-encounter",
                       "context-standalone-patient", "context-standalone-encounter", "permission-offline",
                       "permission-online", "permission-patient", "permission-user", "permission-v1", "permission-v2",
                       "authorize-post"):  # fmt: skip
        assert capability in config["capabilities"]
    # SMART App Launch 2.x names; ONC (g)(10) discovery fails on the 1.0 "context-passthrough-*" ones
    assert not [name for name in config["capabilities"] if name.startswith("context-passthrough")]


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/fhir/.well-known/openid-configuration"])
def test_openid_configuration_has_what_oidc_clients_require(http: httpx.Client, fhir_base: str, path: str) -> None:
    config = http.get(path).json()
    assert config["issuer"] == fhir_base
    assert config["jwks_uri"].endswith("/auth/jwks")
    assert config["authorization_endpoint"].endswith("/auth/authorize")
    assert config["token_endpoint"].endswith("/auth/token")
    assert config["response_types_supported"] == ["code"]
    assert config["subject_types_supported"] == ["public"]
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]


def test_jwks_publishes_one_stable_rsa_signing_key(http: httpx.Client) -> None:
    keys = http.get("/auth/jwks").json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig"
    assert "d" not in keys[0] and "p" not in keys[0]  # public half only
    assert http.get("/auth/jwks").json()["keys"] == keys


def test_capability_statement_declares_smart_security(http: httpx.Client, fhir_base: str) -> None:
    security = http.get("/fhir/metadata").json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    assert security["cors"] is True
    (uris,) = security["extension"]
    assert uris["url"] == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
    root = fhir_base.removesuffix("/fhir")
    found = {e["url"]: e["valueUri"] for e in uris["extension"]}
    assert found == {name: f"{root}/auth/{name}" for name in ("authorize", "token", "revoke", "introspect", "register")}


@pytest.mark.parametrize(
    "path", ["/fhir/.well-known/smart-configuration", "/fhir/metadata", "/auth/token", "/auth/revoke",
             "/auth/introspect", "/.well-known/openid-configuration", "/fhir/Patient"],
)  # fmt: skip
def test_browser_apps_get_cors_preflight_answers(http: httpx.Client, path: str) -> None:
    response = http.options(
        path,
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_cors_headers_on_answers_but_not_on_the_authorize_page(http: httpx.Client) -> None:
    origin = {"Origin": "https://app.example"}
    discovery = http.get("/fhir/.well-known/smart-configuration", headers=origin)
    assert discovery.headers["access-control-allow-origin"] == "*"
    token = http.post("/auth/token", data={"grant_type": "nonsense"}, headers=origin)
    assert token.status_code == 400 and token.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in http.get("/auth/authorize", headers=origin).headers


def test_style_document_is_json(http: httpx.Client) -> None:
    style = http.get("/auth/style").json()
    assert style["color_background"].startswith("#") and "font_family_body" in style


def test_dynamic_registration_is_off_by_default(server: ServerProcess) -> None:
    config = httpx.get(f"{server.base}/fhir/.well-known/smart-configuration").json()
    assert "registration_endpoint" not in config
    response = httpx.post(f"{server.base}/auth/register", json={"redirect_uris": ["https://a.example/cb"]})
    assert response.status_code == 403 and response.json()["error"] == "access_denied"
