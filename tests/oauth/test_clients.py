"""Registering clients: the `fhir-server client` CLI, the admin API and RFC 7591 dynamic registration."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.cli import main
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.clients import SYMMETRIC, Client

from .conftest import DATABASE, SigningKey, code_for, issue_token


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def cli(database: EmbeddedDatabase, capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """`fhir-server client ACTION ARGS...` on the test database, run in this process (same parser and code)."""

    def run(*args: str) -> Ran:
        capsys.readouterr()
        code = main(["client", *args[:1], "--mongodb-uri", database.uri, "--database", DATABASE, *args[1:]])
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run


def listed(cli: Callable[..., Ran]) -> dict[str, dict[str, Any]]:
    done = cli("list", "--json")
    assert done.returncode == 0, done.stderr
    return {c["client_id"]: c for c in map(json.loads, done.stdout.splitlines())}


def test_cli_adds_lists_and_removes_clients(
    http: httpx.Client, database: EmbeddedDatabase, tmp_path: Path, fhir_base: str, cli: Callable[..., Ran]
) -> None:
    added = cli("add", "--id", "cli-public", "--name", "Growth chart", "--redirect-uri",
                "https://chart.example/cb", "--redirect-uri", "https://chart.example/cb2", "--scope",
                "launch patient/*.rs", "--scope", "openid", "--launch-url", "https://chart.example/launch",
                "--logo-uri", "https://chart.example/logo.png")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "cli-public" in added.stdout and "secret" not in added.stdout.lower()
    secret = cli("add", "--id", "cli-symmetric", "--kind", "symmetric", "--redirect-uri",
                 "https://s.example/cb")  # fmt: skip
    assert secret.returncode == 0, secret.stderr
    value = secret.stdout.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    key = SigningKey.new("RS384")
    (tmp_path / "jwks.json").write_text(json.dumps(key.jwks()))
    asymmetric = cli("add", "--id", "cli-asymmetric", "--kind", "asymmetric", "--jwks",
                     str(tmp_path / "jwks.json"), "--scope", "system/Patient.rs")  # fmt: skip
    assert asymmetric.returncode == 0, asymmetric.stderr
    clients = listed(cli)
    assert clients["cli-public"]["redirect_uris"] == ["https://chart.example/cb", "https://chart.example/cb2"]
    assert clients["cli-public"]["scope"] == "launch patient/*.rs openid"
    assert clients["cli-public"]["token_endpoint_auth_method"] == "none"
    assert clients["cli-public"]["logo_uri"] == "https://chart.example/logo.png"
    assert "logo_uri" not in clients["cli-symmetric"], "no logo registered, none listed"
    assert clients["cli-symmetric"]["token_endpoint_auth_method"] == "client_secret_basic"
    assert "client_secret" not in clients["cli-symmetric"] and "secret_hash" not in clients["cli-symmetric"]
    assert clients["cli-asymmetric"]["jwks"]["keys"][0]["kid"] == key.kid

    symmetric = Client("cli-symmetric", "", SYMMETRIC, ("https://s.example/cb",))
    code, pkce = code_for(http, database, symmetric, fhir_base, "patient/*.rs", patient="p-1")
    credentials = base64.b64encode(f"cli-symmetric:{value}".encode()).decode()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://s.example/cb",
            "code_verifier": pkce.verifier}  # fmt: skip
    token = http.post("/auth/token", data=form, headers={"Authorization": f"Basic {credentials}"})
    assert token.status_code == 200, token.text  # the printed secret works

    assert cli("add", "--id", "cli-public", "--redirect-uri", "https://x.example/cb").returncode == 1
    removed = cli("remove", "cli-public")
    assert removed.returncode == 0 and "cli-public" not in listed(cli)
    assert cli("remove", "cli-public").returncode == 1


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (("--id", "no-uri"), "redirect URI"),
        (("--kind", "asymmetric"), "jwks"),
        (("--redirect-uri", "https://a.example/cb", "--scope", "patient/*.xyz"), "cruds"),
        (("--redirect-uri", "javascript:alert(1)"), "redirect URI"),
        (("--redirect-uri", "https://a.example/cb", "--launch-url", "ftp://a.example"), "launch_url"),
        (("--redirect-uri", "https://a.example/cb", "--id", "has space"), "client_id"),
        (("--redirect-uri", "https://a.example/cb", "--logo-uri", "javascript:alert(1)"), "logo_uri"),
    ],
)
def test_cli_refuses_bad_clients(cli: Callable[..., Ran], args: tuple[str, ...], mentions: str) -> None:
    done = cli("add", *args)
    assert done.returncode == 1 and mentions in done.stderr


@pytest.fixture()
def admin(database: EmbeddedDatabase) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(database, ('system/*.cruds',))}"}


def test_admin_api_registers_reads_lists_and_removes(http: httpx.Client, admin: dict[str, str]) -> None:
    metadata = {
        "client_id": "api-symmetric",
        "client_name": "Billing app",
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": ["https://b.example/cb"],
        "scope": "user/Claim.cruds",
    }
    created = http.post("/auth/clients", json=metadata, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["client_secret"] and body["client_id"] == "api-symmetric" and body["scope"] == "user/Claim.cruds"
    assert http.post("/auth/clients", json=metadata, headers=admin).status_code == 409
    read = http.get("/auth/clients/api-symmetric", headers=admin).json()
    assert read["client_name"] == "Billing app" and "client_secret" not in read
    assert "api-symmetric" in [c["client_id"] for c in http.get("/auth/clients", headers=admin).json()]
    assert http.delete("/auth/clients/api-symmetric", headers=admin).status_code == 204
    assert http.get("/auth/clients/api-symmetric", headers=admin).status_code == 404
    assert http.delete("/auth/clients/api-symmetric", headers=admin).status_code == 404


def test_admin_api_refusals(http: httpx.Client, database: EmbeddedDatabase, admin: dict[str, str]) -> None:
    assert http.get("/auth/clients").status_code == 401
    nurse = {"Authorization": f"Bearer {issue_token(database, ('user/*.rs',), role='nurse')}"}
    forbidden = http.post("/auth/clients", json={}, headers=nurse)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "insufficient_scope"
    by_role = {"Authorization": f"Bearer {issue_token(database, ('user/*.rs',), role='admin')}"}
    assert http.get("/auth/clients", headers=by_role).status_code == 200
    bad = http.post("/auth/clients", content=b"not json", headers=admin)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client_metadata"
    assert http.post("/auth/clients", json=["a list"], headers=admin).status_code == 400
    method = http.post("/auth/clients", json={"token_endpoint_auth_method": "tls_client_auth"}, headers=admin)
    assert method.status_code == 400 and "token_endpoint_auth_method" in method.json()["error_description"]
    both = {"token_endpoint_auth_method": "private_key_jwt", "jwks": SigningKey.new("ES384").jwks(),
            "jwks_uri": "https://k.example/jwks"}  # fmt: skip
    assert http.post("/auth/clients", json=both, headers=admin).status_code == 400
    bad_jwks = {"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct"}]}}
    assert http.post("/auth/clients", json=bad_jwks, headers=admin).status_code == 400
    grant_types = {"redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}
    assert http.post("/auth/clients", json=grant_types, headers=admin).status_code == 400


def test_dynamic_registration_of_a_public_app(http: httpx.Client) -> None:
    metadata = {"client_name": "Patient app", "redirect_uris": ["https://p.example/cb"], "scope":
                "launch/patient patient/*.rs openid fhirUser", "client_id": "chosen-by-app",
                "logo_uri": "https://p.example/logo.svg"}  # fmt: skip
    response = http.post("/auth/register", json=metadata)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["client_id"] != "chosen-by-app" and body["token_endpoint_auth_method"] == "none"
    assert body["redirect_uris"] == ["https://p.example/cb"] and isinstance(body["client_id_issued_at"], int)
    assert "client_secret" not in body and body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["logo_uri"] == "https://p.example/logo.svg"


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"redirect_uris": ["https://p.example/cb"], "token_endpoint_auth_method": "client_secret_basic"},
         "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://k.example/jwks"},
         "invalid_client_metadata"),
        ({"redirect_uris": ["https://p.example/cb"], "scope": "system/*.rs"}, "invalid_client_metadata"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://p.example/cb#fragment"]}, "invalid_redirect_uri"),
        ({"redirect_uris": "https://p.example/cb"}, "invalid_client_metadata"),
        ({"redirect_uris": ["https://p.example/cb"], "response_types": ["token"]}, "invalid_client_metadata"),
        ({"redirect_uris": ["https://p.example/cb"], "client_name": 5}, "invalid_client_metadata"),
        ({"redirect_uris": ["https://p.example/cb"], "logo_uri": "data:image/png;base64,AA"},
         "invalid_client_metadata"),
        ({"redirect_uris": ["https://p.example/cb"], "logo_uri": ["https://p.example/l.png"]},
         "invalid_client_metadata"),
    ],
)  # fmt: skip
def test_dynamic_registration_refusals(http: httpx.Client, metadata: dict[str, Any], error: str) -> None:
    response = http.post("/auth/register", json=metadata)
    assert response.status_code == 400 and response.json()["error"] == error
