"""EHR launch: a handle from the EHR side (endpoint or CLI) puts a patient and encounter in context,
once they are found to exist, to be visible to the caller and to belong together."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from fhir_server.cli import main
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.clients import Client
from tests.audit.records import audit_events
from tests.conftest import FHIR_JSON
from tests.test_cli_import_export import cli

from .conftest import DATABASE, Pkce, approve, authorize_params, exchange, issue_token, parked_id, register

LAUNCH_URL = "https://app.example/launch"


@pytest.fixture()
def app(database: EmbeddedDatabase) -> Client:
    return register(database, launch_url=LAUNCH_URL)


def create(fhir_base: str, resource: dict[str, Any]) -> str:
    """Store `resource` through the (open) FHIR API of the test server; its id."""
    response = httpx.post(f"{fhir_base}/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def new_encounter(fhir_base: str, patient: str) -> str:
    return create(fhir_base, {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                              "subject": {"reference": f"Patient/{patient}"}})  # fmt: skip


@pytest.fixture()
def chart(fhir_base: str) -> tuple[str, str]:
    """A new (female) patient and one of her encounters."""
    patient = create(fhir_base, {"resourceType": "Patient", "gender": "female", "name": [{"family": "Launch"}]})
    return patient, new_encounter(fhir_base, patient)


def diagnostics(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == code, body
    return str(body["issue"][0]["diagnostics"])


def launch(http: httpx.Client, token: str | None, body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.post("/auth/launch", json=body, headers=headers)


def test_staff_get_a_launch_url_and_the_app_gets_the_context_with_a_banner(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str, chart: tuple[str, str]
) -> None:
    staff = issue_token(database, ("user/*.rs", "launch"), subject="nurse-1")
    patient, encounter = chart
    response = launch(http, staff, {"client_id": app.client_id, "patient": patient, "encounter": encounter})
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
    assert body["patient"] == patient and body["encounter"] == encounter and body["need_patient_banner"] is True
    style = http.get(body["smart_style_url"])
    assert style.status_code == 200 and style.headers["content-type"].startswith("application/json")
    again = http.get("/auth/authorize", params={**params, "state": "again"})  # a launch handle works once
    assert again.status_code == 302 and "error=invalid_request" in again.headers["location"]


def test_a_launch_handle_only_serves_its_own_client(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str, chart: tuple[str, str]
) -> None:
    staff = issue_token(database, ("user/*.rs",))
    handle = parse_qs(urlsplit(launch(http, staff, {"client_id": app.client_id, "patient": chart[0]}).json()
                               ["launch_url"]).query)["launch"][0]  # fmt: skip
    other = register(database)
    params = authorize_params(other, fhir_base, Pkce.new(), "launch patient/*.rs", launch=handle)
    response = http.get("/auth/authorize", params=params)
    assert response.status_code == 302 and "error=invalid_request" in response.headers["location"]


def test_a_launch_is_audited_with_who_and_the_patient_and_a_refused_one_as_a_failure(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, chart: tuple[str, str]
) -> None:
    staff = issue_token(database, ("user/*.rs", "launch"), subject="nurse-audit")
    patient, _encounter = chart
    assert launch(http, staff, {"client_id": app.client_id, "patient": patient}).status_code == 201
    assert launch(http, staff, {"client_id": app.client_id, "patient": "no-such-patient"}).status_code == 404
    events = audit_events(
        database.uri, DATABASE, {"event.subtype.code": "launch", "event.agent.altId": "nurse-audit"}, at_least=2
    )
    assert [event["outcome"] for event in events] == ["0", "4"], events
    entities = [entity.get("what", {}).get("reference") for entity in events[0]["entity"]]  # type: ignore[union-attr]
    assert f"Patient/{patient}" in entities
    assert events[1].get("outcomeDesc") == "HTTP 404"


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
        ({"client_id": "CLIENT", "patient": ""}, "needs a patient"),
        ([], "JSON object"),
    ],
)
def test_launch_refusals(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, body: object, mentions: str
) -> None:
    staff = issue_token(database, ("system/*.rs",))
    if isinstance(body, dict) and body.get("client_id") == "CLIENT":
        body["client_id"] = app.client_id
    assert mentions in diagnostics(launch(http, staff, body), 400, "invalid")


def test_an_app_without_a_launch_url_cannot_be_launched(
    http: httpx.Client, database: EmbeddedDatabase, chart: tuple[str, str]
) -> None:
    staff = issue_token(database, ("user/*.rs",))
    response = launch(http, staff, {"client_id": register(database).client_id, "patient": chart[0]})
    assert "launch URL" in diagnostics(response, 400, "invalid")


def test_the_patient_and_encounter_must_exist_be_visible_and_belong_together(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str, chart: tuple[str, str]
) -> None:
    patient, encounter = chart
    staff = issue_token(database, ("user/*.rs",))
    unknown = launch(http, staff, {"client_id": app.client_id, "patient": "no-such-patient"})
    assert "Patient/no-such-patient does not exist" in diagnostics(unknown, 404, "not-found")
    missing = launch(http, staff, {"client_id": app.client_id, "patient": patient, "encounter": "no-such-visit"})
    assert "Encounter/no-such-visit" in diagnostics(missing, 404, "not-found")
    other = create(fhir_base, {"resourceType": "Patient", "name": [{"family": "Other"}]})
    foreign = launch(http, staff, {"client_id": app.client_id, "patient": other, "encounter": encounter})
    assert f"not an encounter of Patient/{other}" in diagnostics(foreign, 422, "processing")
    only_men = issue_token(database, ("user/Patient.rs?gender=male", "user/Encounter.rs"))
    hidden = launch(http, only_men, {"client_id": app.client_id, "patient": patient})
    assert "not visible to you" in diagnostics(hidden, 404, "not-found")  # looks just like an unknown id
    no_patients = issue_token(database, ("user/Observation.rs",))
    assert "Patient" in diagnostics(launch(http, no_patients, {"client_id": app.client_id, "patient": patient}),
                                    403, "forbidden")  # fmt: skip
    no_encounters = issue_token(database, ("user/Patient.rs",))
    body = {"client_id": app.client_id, "patient": patient, "encounter": encounter}
    assert "Encounter" in diagnostics(launch(http, no_encounters, body), 403, "forbidden")


def test_cli_prints_a_launch_url(
    http: httpx.Client,
    database: EmbeddedDatabase,
    app: Client,
    fhir_base: str,
    chart: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    patient, encounter = chart
    where = ["--mongodb-uri", database.uri, "--database", DATABASE, "--base-url", fhir_base]
    flags = ["--patient", patient, "--encounter", encounter, *where]
    assert main(["launch", "--client", app.client_id, *flags]) == 0
    url = urlsplit(capsys.readouterr().out.strip())
    assert url.geturl().startswith(LAUNCH_URL + "?")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["iss"] == fhir_base
    pkce = Pkce.new()
    params = authorize_params(app, fhir_base, pkce, "launch patient/*.rs", launch=query["launch"])
    answer = approve(database, parked_id(http.get("/auth/authorize", params=params)))
    assert exchange(http, app, answer["code"], pkce).json()["encounter"] == encounter
    assert main(["launch", "--client", "no-such-app", *flags]) == 1
    assert "No client" in capsys.readouterr().err


def test_cli_refuses_an_unknown_patient_or_another_patients_encounter(
    database: EmbeddedDatabase, app: Client, fhir_base: str, chart: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    patient, encounter = chart
    where = ["--client", app.client_id, "--mongodb-uri", database.uri, "--database", DATABASE, "--base-url", fhir_base]
    assert main(["launch", "--patient", "no-such-patient", *where]) == 1
    assert "launch refused: Patient/no-such-patient does not exist" in capsys.readouterr().err
    other = create(fhir_base, {"resourceType": "Patient", "name": [{"family": "Other"}]})
    assert main(["launch", "--patient", other, "--encounter", encounter, *where]) == 1
    assert f"not an encounter of Patient/{other}" in capsys.readouterr().err
    assert main(["launch", "--patient", patient, "--encounter", new_encounter(fhir_base, patient), *where]) == 0


def test_cli_launch_url_names_the_base_url_the_running_server_recorded(
    http: httpx.Client, database: EmbeddedDatabase, app: Client, fhir_base: str, chart: tuple[str, str]
) -> None:
    where = ["--mongodb-uri", database.uri, "--database", DATABASE]
    done = cli("launch", "--client", app.client_id, "--patient", chart[0], *where)
    assert done.returncode == 0, done.stderr
    query = {k: v[0] for k, v in parse_qs(urlsplit(done.stdout.strip()).query).items()}
    assert query["iss"] == fhir_base  # the server's own port, not 8080
    params = authorize_params(app, fhir_base, Pkce.new(), "launch patient/*.rs", launch=query["launch"])
    parked_id(http.get("/auth/authorize", params=params))  # the app's aud (the iss) is accepted
    elsewhere = cli("launch", "--client", app.client_id, "--patient", chart[0], *where,
                    "--base-url", "https://ehr.example/fhir/")  # fmt: skip
    assert parse_qs(urlsplit(elsewhere.stdout.strip()).query)["iss"] == ["https://ehr.example/fhir"]
    fresh = cli("launch", "--client", app.client_id, "--patient", chart[0], "--mongodb-uri", database.uri,
                "--database", f"never_served_{uuid.uuid4().hex[:8]}")  # fmt: skip
    assert fresh.returncode == 1 and "pass --base-url" in fresh.stderr
