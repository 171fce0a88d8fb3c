"""Who may run a report (its roles, and reach over every row) and who may add one (administrators),
with authorization on; a report Library that would not run is refused on the way in."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx

from fhir_server.reports.library import CHART_URL, PROFILE, TYPE_CODE, TYPE_SYSTEM, USAGE_SYSTEM
from fhir_server.views.carrier import view_library
from tests.conftest import outcome_codes

Connect = Callable[..., httpx.Client]
AGING = {"report": "ar-aging", "as_of": "2026-12-01"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


VIEW = {
    "resourceType": "ViewDefinition",
    "name": "patient_genders",
    "status": "active",
    "resource": "Patient",
    "select": [{"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "gender", "path": "gender"}]}],
}


def report_library(name: str, sql: str, *, view: dict[str, Any] = VIEW, roles: tuple[str, ...] = ("nurse",),
                   parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    library = {
        "resourceType": "Library",
        "meta": {"profile": [PROFILE]},
        "type": {"coding": [{"system": TYPE_SYSTEM, "code": TYPE_CODE}]},
        "name": name,
        "title": "Patients by gender",
        "_title": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/translation", "extension": [
            {"url": "lang", "valueCode": "es"}, {"url": "content", "valueString": "Pacientes por sexo"}]}]},
        "status": "active",
        "useContext": [{"code": {"system": USAGE_SYSTEM, "code": "user"},
                        "valueCodeableConcept": {"coding": [{"code": role} for role in roles]}}],
        "extension": [{"url": CHART_URL, "extension": [
            {"url": "kind", "valueCode": "bar"}, {"url": "x", "valueString": "gender"},
            {"url": "y", "valueString": "patients"}]}],
        "parameter": parameters or [],
        "relatedArtifact": [{"type": "depends-on", "label": "patients",
                             "document": {"contentType": "application/json", "data": _b64(json.dumps(view))}}],
        "content": [{"contentType": "application/sql", "data": _b64(sql)}],
    }  # fmt: skip
    return {key: value for key, value in library.items() if value != []}


GENDERS = "SELECT coalesce(gender, 'unknown') AS gender, count(*) AS patients FROM patients GROUP BY 1 ORDER BY 1"


def test_role_gate(connect: Connect) -> None:
    with connect("user/*.cruds", role="billing") as billing:
        response = billing.get("/$report", params=AGING)
        assert response.status_code == 200, response.text
    with connect("user/*.cruds", role="front-desk") as front_desk:
        response = front_desk.get("/$report", params=AGING)
        assert response.status_code == 403 and outcome_codes(response) == ["forbidden"]
        assert "admin, billing" in response.text
        listed = front_desk.get("/$reports").json()["parameter"]
        names = {part["valueString"] for entry in listed for part in entry["part"] if part["name"] == "name"}
        assert "ar-aging" not in names and "appointments-per-provider" in names


def test_patient_tokens_and_narrow_scopes_cannot_run_practice_reports(connect: Connect) -> None:
    with connect("patient/*.rs", role="billing", patient="p1") as patient:
        response = patient.get("/$report", params=AGING)
        assert response.status_code == 403
        assert "reads every Invoice" in response.text
        assert patient.get("/$reports").json().get("parameter", []) == []
    with connect("user/Invoice.rs?status=issued", role="billing") as narrow:
        assert narrow.get("/$report", params=AGING).status_code == 403


def test_administrators_add_a_report_without_a_restart(connect: Connect) -> None:
    with connect("user/*.cruds", role="admin") as admin:
        for gender in ("female", "female", "male"):
            assert admin.post("/Patient", json={"resourceType": "Patient", "gender": gender}).status_code == 201
        response = admin.post("/Library", json=report_library("patients-by-gender", GENDERS))
        assert response.status_code == 201, response.text
    with connect("user/*.rs", role="nurse") as nurse:
        rows = nurse.get("/$report", params={"report": "patients-by-gender"})
        assert rows.status_code == 200, rows.text
        assert rows.json() == [{"gender": "female", "patients": 2}, {"gender": "male", "patients": 1}]
        listed = nurse.get("/$reports", headers={"Accept-Language": "es"}).json()["parameter"]
        titles = {part["valueString"] for entry in listed for part in entry["part"] if part["name"] == "title"}
        assert "Pacientes por sexo" in titles
        libraries = [part["valueReference"] for entry in listed for part in entry["part"] if part["name"] == "library"]
        assert libraries == [{"reference": f"Library/{response.json()['id']}"}]
    with connect("user/*.rs", role="billing") as billing:
        assert billing.get("/$report", params={"report": "patients-by-gender"}).status_code == 403


def test_only_administrators_add_reports(connect: Connect) -> None:
    with connect("user/*.cruds", role="physician") as physician:
        response = physician.post("/Library", json=report_library("physicians-own", GENDERS))
        assert response.status_code == 403, response.text
        plain = {"resourceType": "Library", "status": "active", "type": {"coding": [{"code": "logic-library"}]}}
        assert physician.post("/Library", json=plain).status_code == 201


def test_report_libraries_that_would_not_run_are_refused(connect: Connect) -> None:
    broken_view = {**VIEW, "select": [{"column": [{"name": "a", "path": "id"}, {"name": "a", "path": "gender"}]}]}
    cases = [
        (report_library("bad-ddl", "DROP TABLE patients"), "DROP"),
        (report_library("bad-two", "SELECT 1 FROM patients; SELECT 2"), "exactly one SELECT"),
        (report_library("bad-file", "SELECT * FROM read_csv('/etc/passwd')"), "read_csv()"),
        (report_library("bad-table", "SELECT * FROM invoices"), "'invoices'"),
        (report_library("bad-parameter", "SELECT * FROM patients WHERE gender = :g"), "does not declare: g"),
        (report_library("bad-view", GENDERS, view=broken_view), "relatedArtifact[0]"),
        (report_library("shipped-name", GENDERS) | {"name": "ar-aging"}, "shipped"),
        (report_library("bad-type", GENDERS, parameters=[{"name": "x", "use": "in", "type": "Quantity"}]),
         "type must be one of"),
    ]  # fmt: skip
    with connect("user/*.cruds", role="admin") as admin:
        for library, words in cases:
            response = admin.post("/Library", json=library)
            assert response.status_code == 400, (library["name"], response.text)
            assert words in response.text, (library["name"], response.text)
        assert admin.post("/Library", json=report_library("twice", GENDERS)).status_code == 201
        again = admin.post("/Library", json=report_library("twice", GENDERS))
        assert again.status_code == 409, again.text


def test_a_report_on_stored_views(connect: Connect) -> None:
    """Views stored as Libraries (views/carrier.py) named by id or canonical url; the report follows their changes."""
    view = {**VIEW, "url": "https://practice.example/ViewDefinition/genders"}
    with connect("user/*.cruds", role="admin") as admin:
        stored = admin.post("/Library", json=view_library(view))
        assert stored.status_code == 201, stored.text
        for name, reference in [("by-id", f"Library/{stored.json()['id']}"), ("by-url", view["url"])]:
            library = report_library(f"stored-{name}", GENDERS, roles=("admin",))
            library["relatedArtifact"] = [{"type": "depends-on", "label": "patients", "resource": reference}]
            assert admin.post("/Library", json=library).status_code == 201, admin.post("/Library", json=library).text
            answer = admin.get("/$report", params={"report": f"stored-{name}"})
            assert answer.status_code == 200, answer.text
            rows = answer.json()
            assert {row["gender"] for row in rows} >= {"female", "male"}, rows
        missing = report_library("stored-missing", GENDERS)
        missing["relatedArtifact"] = [{"type": "depends-on", "label": "patients", "resource": "Library/nope"}]
        refused = admin.post("/Library", json=missing)
        assert refused.status_code == 400 and "no stored view Library/nope" in refused.text
        assert refused.json()["issue"][0]["expression"] == ["Library.relatedArtifact[0].resource"]
