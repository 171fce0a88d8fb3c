"""EHR launch: a handle from the EHR side (endpoint or CLI) puts a patient and encounter in context."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fhir_server.cli import main
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.clients import Client

from .conftest import DATABASE, Pkce, approve, authorize_params, exchange, issue_token, parked_id, register

LAUNCH_URL = "https://app.example/launch"


@pytest.fixture()
def app(database: EmbeddedDatabase) -> Client:
    return register(database, launch_url=LAUNCH_URL)


def launch(http: httpx.Client, token: str | None, body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.post("/auth/launch", json=body, headers=headers)


def test_staff_get_a_launch_url_and_the_app_gets_the_context_with_a_banner(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str
) -> None:
    staff = issue_token(database, ("user/*.rs", "launch"), subject="nurse-1")
    response = launch(http, staff, {"client_id": app.client_id, "patient": "p-9", "encounter": "e-9"})
    assert response.status_code == 201, response.text
    url = urlsplit(response.json()["launch_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == LAUNCH_URL
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["iss"] == fhir_base and query["launch"]
    pkce = Pkce.new()
    params = authorize_params(app, fhir_base, pkce, "launch openid fhirUser patient/*.rs", launch=query["launch"])
    request_id = parked_id(http.get("/auth/authorize", params=params))
    answer = approve(database, request_id, subject="nurse-1", fhir_user="Practitioner/n-1")
    body = exchange(http, app, answer["code"], pkce).json()
    assert body["patient"] == "p-9" and body["encounter"] == "e-9" and body["need_patient_banner"] is True
    style = http.get(body["smart_style_url"])
    assert style.status_code == 200 and style.headers["content-type"].startswith("application/json")
    again = http.get("/auth/authorize", params={**params, "state": "again"})  # a launch handle works once
    assert again.status_code == 302 and "error=invalid_request" in again.headers["location"]


def test_a_launch_handle_only_serves_its_own_client(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str
) -> None:
    staff = issue_token(database, ("user/*.rs",))
    handle = parse_qs(urlsplit(launch(http, staff, {"client_id": app.client_id, "patient": "p-9"}).json()
                               ["launch_url"]).query)["launch"][0]  # fmt: skip
    other = register(database)
    params = authorize_params(other, fhir_base, Pkce.new(), "launch patient/*.rs", launch=handle)
    response = http.get("/auth/authorize", params=params)
    assert response.status_code == 302 and "error=invalid_request" in response.headers["location"]


def test_launch_needs_a_staff_token(http: httpx.Client, database: EmbeddedDatabase, app: Client) -> None:
    body = {"client_id": app.client_id, "patient": "p-9"}
    missing = launch(http, None, body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert launch(http, "no-such-token", body).status_code == 401
    patient = issue_token(database, ("patient/*.rs", "launch/patient"), patient="p-9")
    forbidden = launch(http, patient, body)
    assert forbidden.status_code == 403 and forbidden.json()["error"] == "insufficient_scope"


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"client_id": "no-such-app", "patient": "p"}, "No client"),
        ({"patient": "p"}, "client_id"),
        ({"client_id": "CLIENT"}, "client_id, patient"),
        ({"client_id": "CLIENT", "patient": 7}, "strings"),
        ([], "JSON object"),
    ],
)
def test_launch_refusals(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, body: object, mentions: str
) -> None:
    staff = issue_token(database, ("system/*.rs",))
    if isinstance(body, dict) and body.get("client_id") == "CLIENT":
        body["client_id"] = app.client_id
    response = launch(http, staff, body)
    assert response.status_code == 400 and mentions in response.json()["error_description"]


def test_an_app_without_a_launch_url_cannot_be_launched(http: httpx.Client, database: EmbeddedDatabase) -> None:
    staff = issue_token(database, ("user/*.rs",))
    response = launch(http, staff, {"client_id": register(database).client_id, "patient": "p"})
    assert response.status_code == 400 and "launch URL" in response.json()["error_description"]


def test_cli_prints_a_launch_url(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--patient", "p-3", "--encounter", "e-3", "--mongodb-uri", database.uri, "--database", DATABASE,
             "--base-url", fhir_base]  # fmt: skip
    assert main(["launch", "--client", app.client_id, *flags]) == 0
    url = urlsplit(capsys.readouterr().out.strip())
    assert url.geturl().startswith(LAUNCH_URL + "?")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["iss"] == fhir_base
    pkce = Pkce.new()
    params = authorize_params(app, fhir_base, pkce, "launch patient/*.rs", launch=query["launch"])
    answer = approve(database, parked_id(http.get("/auth/authorize", params=params)))
    assert exchange(http, app, answer["code"], pkce).json()["encounter"] == "e-3"
    assert main(["launch", "--client", "no-such-app", *flags]) == 1
    assert "No client" in capsys.readouterr().err
