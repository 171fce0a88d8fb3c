"""Fee schedule rules and charge capture, over HTTP against the real server and database."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from fhir_server.storage import EmbeddedDatabase
from tests.billing.claims.helpers import (
    Num,
    charges_of,
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
)


def _issues(response: httpx.Response, status: int) -> list[dict]:
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return list(outcome["issue"])


def test_a_fee_entry_keeps_its_amounts_exactly(client: httpx.Client) -> None:
    code = local_code()
    entry = created(client, fee_entry(code, {"standard": "1.10", "self-pay": "0.50"}))
    raw = client.get(f"/ChargeItemDefinition/{entry['id']}").content
    assert b'"value":1.10' in raw.replace(b" ", b"")


def test_bad_prices_are_refused_with_every_problem_named(client: httpx.Client) -> None:
    code = local_code()
    bad = fee_entry(code, {"standard": "-1.00", "self-pay": "2.00"})
    del bad["propertyGroup"][1]["priceComponent"][0]["amount"]["currency"]
    bad["url"] = "urn:fhir-server:fee-schedule:OTHER"
    issues = _issues(post(client, bad), 400)
    where = {issue["expression"][0] for issue in issues}
    assert where == {
        "ChargeItemDefinition.url",
        "ChargeItemDefinition.propertyGroup[0].priceComponent[0].amount.value",
        "ChargeItemDefinition.propertyGroup[1].priceComponent[0].amount.currency",
    }
    assert client.get("/ChargeItemDefinition", params={"url": bad["url"]}).json().get("entry") is None


def test_overlapping_periods_of_one_code_and_level_are_refused(client: httpx.Client) -> None:
    code = local_code()
    created(client, fee_entry(code, {"standard": "10.00"}, start="2026-01-01", end="2026-06-30"))
    issues = _issues(post(client, fee_entry(code, {"standard": "12.00"}, start="2026-06-30")), 409)
    assert issues[0]["expression"] == ["ChargeItemDefinition.effectivePeriod"]
    created(client, fee_entry(code, {"standard": "12.00"}, start="2026-07-01"))  # the next period is fine
    created(client, fee_entry(code, {"self-pay": "8.00"}, start="2026-01-01"))  # another level is fine
    bundle = client.get("/ChargeItemDefinition", params={"url": f"urn:fhir-server:fee-schedule:{code}"}).json()
    assert len(bundle["entry"]) == 3


def test_a_finished_encounter_is_charged_once_at_the_payer_level(client: httpx.Client) -> None:
    code = local_code()
    person = patient(client)
    insurer = payer(client)
    created(
        client, fee_entry(code, {"standard": "100.00", "self-pay": "60.00", f"Organization/{insurer['id']}": "88.10"})
    )
    coverage(client, person["id"], insurer["id"])
    diagnosis = condition(client, person["id"], "E11.9")
    visit = encounter(
        client, person["id"], code, diagnosis=[{"condition": {"reference": f"Condition/{diagnosis['id']}"}, "rank": 1}]
    )
    assert charges_of(client, f"Encounter/{visit['id']}") == []
    visit = finish(client, visit)
    [charge] = charges_of(client, f"Encounter/{visit['id']}")
    assert charge["priceOverride"] == {"value": 88.1, "currency": "USD"}
    raw = client.get(f"/ChargeItem/{charge['id']}").content.replace(b" ", b"")
    assert b'"priceOverride":{"value":88.10' in raw
    assert charge["code"]["coding"][0]["code"] == code
    assert charge["context"] == {"reference": f"Encounter/{visit['id']}"}
    assert charge["reason"] == [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.9"}]}]
    account = client.get(f"/{charge['account'][0]['reference']}").json()
    assert account["subject"] == [{"reference": f"Patient/{person['id']}"}]
    # finishing again (or re-opening and finishing) charges nothing more
    finish(client, finish(client, visit, "in-progress"))
    assert len(charges_of(client, f"Encounter/{visit['id']}")) == 1


def test_self_pay_without_coverage_and_one_account_per_patient(client: httpx.Client) -> None:
    code = local_code()
    person = patient(client)
    created(client, fee_entry(code, {"standard": "100.00", "self-pay": "60.00"}))
    first = finish(client, encounter(client, person["id"], code))
    second = finish(client, encounter(client, person["id"], code))
    [a] = charges_of(client, f"Encounter/{first['id']}")
    [b] = charges_of(client, f"Encounter/{second['id']}")
    assert a["priceOverride"]["value"] == 60 and b["priceOverride"]["value"] == 60
    assert a["account"] == b["account"]
    accounts = client.get("/Account", params={"subject": f"Patient/{person['id']}"}).json()["entry"]
    assert len(accounts) == 1


def test_an_unknown_code_makes_an_unpriced_charge(client: httpx.Client) -> None:
    person = patient(client)
    visit = finish(client, encounter(client, person["id"], local_code()))
    [charge] = charges_of(client, f"Encounter/{visit['id']}")
    assert "priceOverride" not in charge


def test_procedure_immunization_dispense_and_lab_order_are_charged(client: httpx.Client) -> None:
    person = patient(client)
    subject = {"reference": f"Patient/{person['id']}"}
    codes = [local_code() for _ in range(4)]
    for code in codes:
        created(client, fee_entry(code, {"standard": "20.00", "self-pay": "15.25"}))
    cpt = "http://www.ama-assn.org/go/cpt"
    procedure = created(
        client,
        {
            "resourceType": "Procedure",
            "status": "in-progress",
            "subject": subject,
            "code": {"coding": [{"system": cpt, "code": codes[0]}]},
            "performedDateTime": "2026-06-01",
        },
    )
    assert charges_of(client, f"Procedure/{procedure['id']}") == []
    finish(client, procedure, "completed")
    shot = created(
        client,
        {
            "resourceType": "Immunization",
            "status": "completed",
            "patient": subject,
            "vaccineCode": {"coding": [{"system": cpt, "code": codes[1]}]},
            "occurrenceDateTime": "2026-06-01",
        },
    )
    dispense = created(
        client,
        {
            "resourceType": "MedicationDispense",
            "status": "completed",
            "subject": subject,
            "location": {"display": "Clinic dispensary"},
            "medicationCodeableConcept": {"coding": [{"system": cpt, "code": codes[2]}]},
            "quantity": {"value": Num("2")},
            "whenHandedOver": "2026-06-01",
        },
    )
    pharmacy = created(client, {k: v for k, v in dispense.items() if k not in ("id", "meta", "location")})
    lab = created(
        client,
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "subject": subject,
            "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007"}]}],
            "code": {"coding": [{"system": cpt, "code": codes[3]}]},
            "authoredOn": "2026-06-01",
        },
    )
    referral = created(client, {k: v for k, v in lab.items() if k not in ("id", "meta", "category")})
    assert [c["priceOverride"]["value"] for c in charges_of(client, f"Procedure/{procedure['id']}")] == [15.25]
    assert [c["priceOverride"]["value"] for c in charges_of(client, f"Immunization/{shot['id']}")] == [15.25]
    assert [c["priceOverride"]["value"] for c in charges_of(client, f"MedicationDispense/{dispense['id']}")] == [30.5]
    assert [c["priceOverride"]["value"] for c in charges_of(client, f"ServiceRequest/{lab['id']}")] == [15.25]
    assert charges_of(client, f"MedicationDispense/{pharmacy['id']}") == []
    assert charges_of(client, f"ServiceRequest/{referral['id']}") == []


def test_a_transaction_is_charged_in_its_own_commit(client: httpx.Client) -> None:
    code = local_code()
    created(client, fee_entry(code, {"standard": "5.00"}))
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "resource": {"resourceType": "Patient", "name": [{"family": "Tx"}]},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:e1",
                "resource": {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                    "type": [{"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code}]}],
                    "subject": {"reference": "urn:uuid:p1"},
                    "period": {"start": "2026-06-01"},
                },
                "request": {"method": "POST", "url": "Encounter"},
            },
        ],
    }
    response = client.post("/", content=exact_json(bundle))
    assert response.status_code == 200, response.text
    encounter_ref = next(
        e["response"]["location"] for e in response.json()["entry"] if "Encounter/" in e["response"]["location"]
    )
    [charge] = charges_of(client, "/".join(encounter_ref.split("/")[:2]))
    assert charge["priceOverride"]["value"] == 5


def _line(client: httpx.Client, visit: str, **parameters: str) -> httpx.Response:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": name, "valueDecimal": Num(value)} if name == "units" else {"name": name, "valueString": value}
            for name, value in parameters.items()
        ],
    }
    return client.post(f"/Encounter/{visit}/$charge", content=exact_json(body))


def test_fee_sheet_lines_are_priced_by_the_server(client: httpx.Client) -> None:
    em, shot = local_code(), local_code()
    created(client, fee_entry(em, {"standard": "100.00", "self-pay": "60.00"}))
    created(client, fee_entry(shot, {"standard": "20.00", "self-pay": "12.35"}))
    person = patient(client)
    visit = finish(client, encounter(client, person["id"], em))
    added = _line(client, visit["id"], code=f"http://www.ama-assn.org/go/cpt|{shot}", units="3")
    assert added.status_code == 201, added.text
    line = added.json()
    raw = client.get(f"/ChargeItem/{line['id']}").content.replace(b" ", b"")
    assert b'"priceOverride":{"value":37.05,"currency":"USD"}' in raw
    assert line["account"] == charges_of(client, f"Encounter/{visit['id']}")[0]["account"]
    changed = _line(client, visit["id"], code=shot, units="1", chargeItem=f"ChargeItem/{line['id']}")
    assert changed.status_code == 200, changed.text
    assert b'"value":12.35' in client.get(f"/ChargeItem/{line['id']}").content.replace(b" ", b"")


def test_bad_fee_sheet_lines_are_refused(client: httpx.Client) -> None:
    em = local_code()
    created(client, fee_entry(em, {"standard": "100.00"}))
    visit = finish(client, encounter(client, patient(client)["id"], em))
    other = finish(client, encounter(client, patient(client)["id"], em))
    [foreign] = charges_of(client, f"Encounter/{other['id']}")
    cases = [
        ({"code": local_code()}, 422, "code"),
        ({"code": em, "units": "0"}, 400, "units"),
        ({"code": em, "units": "-2"}, 400, "units"),
        ({"units": "1"}, 400, "code"),
        ({"code": em, "chargeItem": f"ChargeItem/{foreign['id']}"}, 400, "chargeItem"),
    ]
    for parameters, status, where in cases:
        response = _line(client, visit["id"], **parameters)
        assert response.status_code == status, (parameters, response.text)
        assert response.json()["issue"][0]["expression"] == [where]
    assert len(client.get("/ChargeItem", params={"context": f"Encounter/{visit['id']}"}).json()["entry"]) == 1


def test_concurrent_first_charges_of_a_patient_open_one_account(client: httpx.Client, base_url: str) -> None:
    code = local_code()
    created(client, fee_entry(code, {"standard": "5.00"}))
    person = patient(client)
    visits = [encounter(client, person["id"], code) for _ in range(6)]

    def close(visit: dict) -> int:
        with httpx.Client(base_url=base_url, headers={"Content-Type": "application/fhir+json"}, timeout=60) as http:
            return finish(http, visit)["meta"]["versionId"] != ""

    with ThreadPoolExecutor(6) as pool:
        assert all(pool.map(close, visits))
    accounts = client.get("/Account", params={"subject": f"Patient/{person['id']}"}).json()["entry"]
    assert len(accounts) == 1
    charged = [charges_of(client, f"Encounter/{v['id']}") for v in visits]
    assert all(
        len(c) == 1 and c[0]["account"] == [{"reference": f"Account/{accounts[0]['resource']['id']}"}] for c in charged
    )


def test_a_json_patch_finishing_a_visit_charges_it(client: httpx.Client) -> None:
    code = local_code()
    created(client, fee_entry(code, {"standard": "7.00"}))
    visit = encounter(client, patient(client)["id"], code)
    patch = b'[{"op": "replace", "path": "/status", "value": "finished"}]'
    response = client.patch(
        f"/Encounter/{visit['id']}", content=patch, headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 200, response.text
    [charge] = charges_of(client, f"Encounter/{visit['id']}")
    assert charge["priceOverride"]["value"] == 7


def test_a_refused_write_charges_nothing(client: httpx.Client) -> None:
    """A transaction whose other entry a rule refuses leaves neither the visit nor its charge."""
    code = local_code()
    created(client, fee_entry(code, {"standard": "7.00"}))
    person = patient(client)
    visit = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": code}]}],
        "subject": {"reference": f"Patient/{person['id']}"},
        "identifier": [{"system": "urn:test", "value": code}],
    }
    bad_fee = fee_entry(local_code(), {"standard": "-1"})
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": visit, "request": {"method": "POST", "url": "Encounter"}},
            {"resource": bad_fee, "request": {"method": "POST", "url": "ChargeItemDefinition"}},
        ],
    }
    assert client.post("/", content=exact_json(bundle)).status_code == 400
    assert client.get("/Encounter", params={"identifier": f"urn:test|{code}"}).json().get("entry") is None
    assert client.get("/Account", params={"subject": f"Patient/{person['id']}"}).json().get("entry") is None
    assert client.get("/ChargeItem", params={"subject": f"Patient/{person['id']}"}).json().get("entry") is None


def test_imported_history_is_not_charged(client: httpx.Client, database: EmbeddedDatabase, tmp_path: Path) -> None:
    """`fhir-server import` loads visits billed where they happened: no ChargeItem, no Account."""
    person = patient(client)
    visit = {
        **encounter(client, person["id"], "99213"),
        "id": f"imported-{uuid.uuid4().hex[:12]}",
        "status": "finished",
        "period": {"start": "2019-03-01T09:00:00Z", "end": "2019-03-01T09:20:00Z"},
    }
    visit.pop("meta")
    lines = tmp_path / "history.ndjson"
    lines.write_text(json.dumps(visit) + "\n")
    command = [sys.executable, "-m", "fhir_server", "import", str(lines), "--mongodb-uri", database.uri]
    done = subprocess.run([*command, "--database", "fhir_tests"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert client.get(f"/Encounter/{visit['id']}").json()["status"] == "finished"
    assert charges_of(client, f"Encounter/{visit['id']}") == []

    finish(client, encounter(client, person["id"], "99213"))  # the same visit finished here is charged
    assert len(client.get("/ChargeItem", params={"subject": f"Patient/{person['id']}"}).json()["entry"]) == 1
