"""`$report` and `$reports` over HTTP against a real server: shipped reports over stored resources,
incremental refresh after updates and deletes, CSV, and every bad parameter."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from tests.conftest import outcome_codes

INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


def _created(http: httpx.Client, resource: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _appointment(practitioner: str, start: str, status: str) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": status,
        "start": start,
        "end": start.replace(":00:00", ":30:00"),
        "participant": [{"actor": {"reference": f"Practitioner/{practitioner}"}, "status": "accepted"}],
    }


def _report(http: httpx.Client, name: str, **parameters: str) -> list[dict[str, Any]]:
    response = http.get("/$report", params={"report": name, **parameters})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    rows: list[dict[str, Any]] = response.json()
    return rows


def test_appointments_per_provider_follow_updates_and_deletes(http: httpx.Client) -> None:
    house = _created(http, {"resourceType": "Practitioner", "name": [{"family": "House", "given": ["Greg"]}]})["id"]
    booked = [
        _created(http, _appointment(house, "2026-03-02T09:00:00Z", "booked")),
        _created(http, _appointment(house, "2026-03-02T10:00:00Z", "noshow")),
        _created(http, _appointment(house, "2026-03-02T11:00:00Z", "fulfilled")),
        _created(http, _appointment(house, "2026-03-02T12:00:00Z", "cancelled")),
        _created(http, _appointment(house, "2026-03-03T09:00:00Z", "booked")),
        _created(http, _appointment(house, "2026-04-01T09:00:00Z", "booked")),
    ]
    period = {"start": "2026-03-01", "end": "2026-03-31"}
    rows = _report(http, "appointments-per-provider", **period)
    assert rows == [
        {"day": "2026-03-02", "provider": "Greg House", "booked": 3, "no_shows": 1, "no_show_percent": 33.3},
        {"day": "2026-03-03", "provider": "Greg House", "booked": 1, "no_shows": 0, "no_show_percent": 0.0},
    ]
    # An update replaces the appointment's row, a deletion removes it (incremental refresh from the history).
    changed = {**booked[4], "status": "noshow"}
    assert http.put(f"/Appointment/{changed['id']}", json=changed).status_code == 200
    assert http.delete(f"/Appointment/{booked[2]['id']}").status_code in (200, 204)
    rows = _report(http, "appointments-per-provider", **period)
    assert [(r["day"], r["booked"], r["no_shows"]) for r in rows] == [("2026-03-02", 2, 1), ("2026-03-03", 1, 1)]


def test_abnormal_lab_results_by_interpretation(http: httpx.Client) -> None:
    patient = _created(http, {"resourceType": "Patient", "name": [{"family": "Lab"}]})["id"]

    def result(flag: str | None, day: str, category: str = "laboratory") -> dict[str, Any]:
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
            "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": f"{day}T08:00:00Z",
            "valueQuantity": {"value": 1, "unit": "mg/dL"},
        }
        if flag:
            observation["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": flag}]}]
        return observation

    for flag, day in [("H", "2026-02-01"), ("HH", "2026-02-02"), ("L", "2026-02-03"), ("N", "2026-02-04"),
                      (None, "2026-02-05"), ("A", "2026-02-06"), ("H", "2025-12-31")]:  # fmt: skip
        _created(http, result(flag, day))
    _created(http, result("H", "2026-02-07", category="vital-signs"))
    rows = _report(http, "abnormal-lab-results", start="2026-01-01", end="2026-12-31")
    assert rows == [{"test": "Glucose", "high": 2, "low": 1, "abnormal": 1, "patients": 1}]


def test_csv_download(http: httpx.Client) -> None:
    _created(http, {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                    "type": [{"text": "Check-up, yearly"}], "period": {"start": "2026-05-04T10:00:00Z"}})  # fmt: skip
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "report", "valueString": "encounters-by-month"},
        {"name": "start", "valueDate": "2026-05-01"},
        {"name": "end", "valueDate": "2026-05-31"},
        {"name": "_format", "valueCode": "csv"},
    ]}  # fmt: skip
    response = http.post("/$report", json=parameters)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="encounters-by-month.csv"' in response.headers["content-disposition"]
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["month", "type", "encounters"],
        ["2026-05", "Check-up, yearly", "1"],
    ]


def test_list_of_reports_in_the_callers_language(http: httpx.Client) -> None:
    response = http.get("/$reports", headers={"Accept-Language": "de"})
    assert response.status_code == 200, response.text
    reports = {
        next(p["valueString"] for p in entry["part"] if p["name"] == "name"): entry["part"]
        for entry in response.json()["parameter"]
    }
    assert len(reports) == 9
    title = next(p["valueString"] for p in reports["ar-aging"] if p["name"] == "title")
    assert title == "Altersstruktur der Forderungen"
    chart = next(p["part"] for p in reports["encounters-by-month"] if p["name"] == "chart")
    assert {"name": "kind", "valueCode": "line"} in chart


def test_every_shipped_report_runs_on_an_empty_or_partial_store(http: httpx.Client) -> None:
    dated = {"start": "2020-01-01", "end": "2030-12-31"}
    for name, parameters in [
        ("patients-by-condition", {}), ("immunization-status", dated), ("prescriptions-by-drug", dated),
        ("stock-expiring", {"until": "2030-01-01"}), ("ar-aging", {"as_of": "2026-12-06"}),
        ("denied-claims", dated), ("encounters-by-month", dated),
    ]:  # fmt: skip
        assert isinstance(_report(http, name, **parameters), list), name


def test_csv_by_url(http: httpx.Client) -> None:
    response = http.get("/$report", params={"report": "ar-aging", "as_of": "2026-12-01", "_format": "csv"})
    assert response.status_code == 200, response.text
    assert response.text.splitlines() == ["age,currency,invoices,amount"]


def test_bad_parameters(http: httpx.Client) -> None:
    cases = [
        ({"report": "no-such-report"}, 404, "no report named"),
        ({}, 400, "Name one report"),
        ({"report": "encounters-by-month", "start": "2026-01-01"}, 400, "needs the parameter 'end'"),
        ({"report": "encounters-by-month", "start": "January", "end": "2026-02-01"}, 400, "must be a date"),
        ({"report": "encounters-by-month", "start": "2026-01-01", "end": "2026-02-01", "colour": "red"}, 400,
         "has no parameter 'colour'"),
    ]  # fmt: skip
    for params, status, words in cases:
        response = http.get("/$report", params=params)
        assert response.status_code == status, (params, response.text)
        assert words in response.json()["issue"][0]["diagnostics"], response.text
    twice = http.get("/$report?report=ar-aging&as_of=2026-01-01&as_of=2026-02-01")
    assert twice.status_code == 400 and "more than once" in twice.text
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "report", "valueString": "ar-aging"}, {"name": "as_of", "valueDate": "2026-01-01"},
        {"name": "_format", "valueCode": "xlsx"},
    ]}  # fmt: skip
    response = http.post("/$report", json=parameters)
    assert response.status_code == 400 and outcome_codes(response) == ["invalid"]
    assert "use json or csv" in response.text
