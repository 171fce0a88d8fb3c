"""Claims out over HTTP: assembling and checking a visit's Claim, the 837P batch (validated by pyx12),
control numbers, the CMS-1500 PDF and the coverage rules."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from fhir_server.billing.codes import CPT, ICD10CM, MODIFIER
from fhir_server.billing.x12.segments import parse
from fhir_server.billing.x12.validate import validate
from tests.billing.claims.helpers import (
    charges_of,
    clinic,
    condition,
    coverage,
    created,
    encounter,
    exact_json,
    fee_entry,
    finish,
    local_code,
    patient,
    payer,
    post,
    practitioner,
)
from tests.conftest import FHIR_JSON


def _visit(
    client: httpx.Client, *, npi: str | None = "1234567893", priced: bool = True, insured: bool = True
) -> dict[str, Any]:
    """A finished visit with two charges (the E/M and a procedure) and two diagnoses."""
    em, procedure_code = local_code(), local_code()
    if priced:
        created(client, fee_entry(em, {"standard": "100.00", "self-pay": "60.00"}))
    created(client, fee_entry(procedure_code, {"standard": "10.10"}))
    person = patient(client)
    if insured:
        coverage(client, person["id"], payer(client)["id"])
    diabetes = condition(client, person["id"], "E11.9")
    pressure = condition(client, person["id"], "I10")
    visit = encounter(
        client,
        person["id"],
        em,
        serviceProvider={"reference": f"Organization/{clinic(client, npi)['id']}"},
        participant=[{"individual": {"reference": f"Practitioner/{practitioner(client)['id']}"}}],
        diagnosis=[
            {"condition": {"reference": f"Condition/{diabetes['id']}"}, "rank": 1},
            {"condition": {"reference": f"Condition/{pressure['id']}"}, "rank": 2},
        ],
    )
    created(
        client,
        {
            "resourceType": "Procedure",
            "status": "completed",
            "subject": {"reference": f"Patient/{person['id']}"},
            "encounter": {"reference": f"Encounter/{visit['id']}"},
            "code": {"coding": [{"system": CPT, "code": procedure_code}]},
            "reasonCode": [{"coding": [{"system": ICD10CM, "code": "I10"}]}],
            "performedDateTime": "2026-06-01",
        },
    )
    return finish(client, visit)


def _claim(client: httpx.Client, visit: dict[str, Any]) -> httpx.Response:
    return client.post(f"/Encounter/{visit['id']}/$claim", content=b"")


def _export(client: httpx.Client, *claims: str) -> httpx.Response:
    parameters = {
        "resourceType": "Parameters",
        "parameter": [{"name": "claim", "valueReference": {"reference": c}} for c in claims],
    }
    return client.post("/Claim/$export-x12", content=exact_json(parameters))


def _problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {issue["expression"][0]: issue["diagnostics"] for issue in response.json()["issue"]}


def test_a_visit_becomes_a_claim_and_an_837p_that_pyx12_accepts(client: httpx.Client) -> None:
    visit = _visit(client)
    response = _claim(client, visit)
    assert response.status_code == 201, response.text
    claim = response.json()
    assert [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim["diagnosis"]] == ["E11.9", "I10"]
    assert [item["diagnosisSequence"] for item in claim["item"]] == [[2], [1, 2]]  # in the order charged
    assert b'"total":{"value":110.10' in client.get(f"/Claim/{claim['id']}").content.replace(b" ", b"")
    exported = _export(client, f"Claim/{claim['id']}")
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("application/edi-x12")
    text = exported.text
    assert validate(text) == []
    segments = parse(text)
    clm = next(s for s in segments if s[0] == "CLM")
    assert clm[1:3] == (claim["id"], "110.10")
    assert [s[2] for s in segments if s[0] == "SV1"] == ["10.10", "100.00"]
    assert next(s for s in segments if s[0] == "HI")[1:] == ("ABK:E119", "ABF:I10")


def test_modifiers_units_and_a_dependent_patient_still_validate(client: httpx.Client) -> None:
    visit = _visit(client)
    [charge] = charges_of(client, f"Encounter/{visit['id']}")
    charge["extension"] = [{"url": MODIFIER, "valueCoding": {"system": CPT, "code": "25"}}]
    charge["quantity"] = {"value": 2}
    assert client.put(f"/ChargeItem/{charge['id']}", content=exact_json(charge)).status_code == 200
    coverage_id = client.get("/Coverage", params={"beneficiary": charge["subject"]["reference"]}).json()["entry"][0][
        "resource"
    ]
    parent = created(
        client,
        {
            "resourceType": "RelatedPerson",
            "patient": charge["subject"],
            "name": [{"family": "Doe", "given": ["John"]}],
            "gender": "male",
            "birthDate": "1970-03-04",
        },
    )
    coverage_id["subscriber"] = {"reference": f"RelatedPerson/{parent['id']}"}
    coverage_id["relationship"] = {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "child"}]
    }
    assert client.put(f"/Coverage/{coverage_id['id']}", content=exact_json(coverage_id)).status_code == 200
    claim = _claim(client, visit).json()
    text = _export(client, f"Claim/{claim['id']}").text
    assert validate(text) == []
    segments = parse(text)
    assert ("PAT", "19") in segments
    code = charge["code"]["coding"][0]["code"]
    line = next(s for s in segments if s[0] == "SV1" and s[1].startswith(f"HC:{code}"))
    assert (line[1], line[4]) == (f"HC:{code}:25", "2")


def test_every_problem_of_a_claim_is_listed_and_nothing_is_written(client: httpx.Client) -> None:
    visit = _visit(client, npi=None, priced=False, insured=False)
    [charge] = charges_of(client, f"Encounter/{visit['id']}")
    charge["reason"] = [{"coding": [{"system": ICD10CM, "code": code}]} for code in ("A00", "B00", "C00", "D00", "E00")]
    assert client.put(f"/ChargeItem/{charge['id']}", content=exact_json(charge)).status_code == 200
    problems = _problems(_claim(client, visit))
    assert {"Claim.provider", "Claim.insurance", "Claim.item[1].net", "Claim.item[1].diagnosisSequence[4]"} <= set(
        problems
    )
    assert "NPI" in problems["Claim.provider"]
    assert client.get("/Claim", params={"patient": charge["subject"]["reference"]}).json().get("entry") is None


def test_a_claim_written_directly_is_checked_too(client: httpx.Client) -> None:
    visit = _visit(client)
    claim = _claim(client, visit).json()
    claim["item"][0]["diagnosisSequence"] = [1, 7]
    del claim["careTeam"]
    claim["careTeam"] = [
        {"sequence": 1, "provider": {"reference": f"Practitioner/{practitioner(client, npi=None)['id']}"}}
    ]
    problems = _problems(client.put(f"/Claim/{claim['id']}", content=exact_json(claim)))
    assert set(problems) == {"Claim.item[0].diagnosisSequence[1]", "Claim.careTeam[0].provider"}
    assert client.get(f"/Claim/{claim['id']}").json()["meta"]["versionId"] == "1"


def test_control_numbers_never_repeat_under_concurrent_exports(client: httpx.Client, base_url: str) -> None:
    claim = _claim(client, _visit(client)).json()

    def one(_n: int) -> tuple[str, str]:
        with httpx.Client(base_url=base_url, headers=FHIR_JSON, timeout=60) as http:
            response = _export(http, f"Claim/{claim['id']}")
            assert response.status_code == 200, response.text
            segments = parse(response.text)
            return segments[0][13], segments[1][6]

    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(one, range(16)))
    assert len({isa for isa, _gs in numbers}) == 16
    assert len({gs for _isa, gs in numbers}) == 16


@pytest.mark.parametrize(
    ("parameters", "status"),
    [
        ([], 400),
        ([{"name": "claim", "valueReference": {"reference": "Patient/1"}}], 400),
        ([{"name": "claim", "valueReference": {"reference": "Claim/does-not-exist"}}], 404),
    ],
)
def test_bad_export_requests(client: httpx.Client, parameters: list[dict[str, Any]], status: int) -> None:
    response = client.post(
        "/Claim/$export-x12", content=exact_json({"resourceType": "Parameters", "parameter": parameters})
    )
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_delimiter_in_the_data_is_refused_not_written(client: httpx.Client) -> None:
    visit = _visit(client)
    claim = _claim(client, visit).json()
    person = client.get(f"/{claim['patient']['reference']}").json()
    person["name"] = [{"family": "Do*e", "given": ["Jane"]}]
    assert client.put(f"/Patient/{person['id']}", content=exact_json(person)).status_code == 200
    response = _export(client, f"Claim/{claim['id']}")
    assert response.status_code == 422, response.text
    assert "Do*e" in response.json()["issue"][0]["diagnostics"]


def test_the_cms1500_pdf_shows_the_claim(client: httpx.Client) -> None:
    claim = _claim(client, _visit(client)).json()
    response = client.get(f"/Claim/{claim['id']}/$cms1500")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for expected in ("CMS-1500", "M123", "Doe, Jane", "E11.9", "110.10", "1234567893", "12-3456789"):
        assert expected in text, expected


def test_coverage_rules(client: httpx.Client) -> None:
    person = patient(client)
    insurer = payer(client)
    coverage(client, person["id"], insurer["id"], order=1, period={"start": "2026-01-01", "end": "2026-12-31"})
    response = post(client, {**_coverage_body(person["id"], insurer["id"]), "order": 1})
    assert response.status_code == 409, response.text
    assert response.json()["issue"][0]["expression"] == ["Coverage.order"]
    coverage(client, person["id"], insurer["id"], order=2)
    no_member = _coverage_body(person["id"], insurer["id"])
    del no_member["subscriberId"]
    response = post(client, {**no_member, "order": 3})
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["expression"] == ["Coverage.subscriberId"]


def _coverage_body(patient_id: str, payer_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "status": "active",
        "beneficiary": {"reference": f"Patient/{patient_id}"},
        "subscriberId": "M999",
        "payor": [{"reference": f"Organization/{payer_id}"}],
    }


def test_a_line_in_another_currency_is_refused(client: httpx.Client) -> None:
    claim = _claim(client, _visit(client)).json()
    claim["item"][1]["net"]["currency"] = "EUR"
    problems = _problems(client.put(f"/Claim/{claim['id']}", content=exact_json(claim)))
    assert set(problems) == {"Claim.item[1].net.currency"}


def test_two_currencies_in_one_fee_entry_are_refused(client: httpx.Client) -> None:
    entry = fee_entry(local_code(), {"standard": "10.00", "self-pay": "8.00"})
    entry["propertyGroup"][1]["priceComponent"][0]["amount"]["currency"] = "EUR"
    response = post(client, entry)
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["expression"] == ["ChargeItemDefinition.propertyGroup"]


def test_a_visit_is_billed_by_one_active_claim(client: httpx.Client, base_url: str) -> None:
    visit = _visit(client)

    def claim(_n: int) -> int:
        with httpx.Client(base_url=base_url, headers=FHIR_JSON, timeout=60) as http:
            return _claim(http, visit).status_code

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(claim, range(4))) == [201, 409, 409, 409]
    [first] = [
        e["resource"] for e in client.get("/Claim", params={"encounter": f"Encounter/{visit['id']}"}).json()["entry"]
    ]
    again = _claim(client, visit)
    assert again.status_code == 409
    assert again.json()["issue"][0]["expression"] == ["Claim.item.encounter"]
    first["status"] = "cancelled"
    assert client.put(f"/Claim/{first['id']}", content=exact_json(first)).status_code == 200
    assert _claim(client, visit).status_code == 201  # a corrected claim once the first is cancelled


def test_more_than_50_lines_are_refused(client: httpx.Client) -> None:
    claim = _claim(client, _visit(client)).json()
    claim["item"] = [{**claim["item"][0], "sequence": n} for n in range(1, 52)]
    problems = _problems(client.put(f"/Claim/{claim['id']}", content=exact_json(claim)))
    assert set(problems) == {"Claim.item[50]"}


def test_a_claim_id_too_long_for_clm01_is_refused(client: httpx.Client) -> None:
    claim = _claim(client, _visit(client)).json()
    long_id = "c" * 39
    claim = {**claim, "id": long_id}
    del claim["meta"]
    problems = _problems(client.put(f"/Claim/{long_id}", content=exact_json(claim)))
    assert set(problems) == {"Claim.id"}
    assert client.get(f"/Claim/{long_id}").status_code == 404
