"""The CDS Hooks 2.0 service over real HTTP: discovery, order-sign and order-select, prefetch given by the
client or fetched by the service (from this server's store, or from another FHIR server with the
fhirAuthorization token)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ServerProcess

from .conftest import AMOXICILLIN, IBUPROFEN, LISINOPRIL, PENICILLIN, WARFARIN, Clinic, allergy, draft, new_patient

SIGN, SELECT = "rx-safety-order-sign", "rx-safety-order-select"


def _hooks(clinic: Clinic) -> str:
    return str(clinic.admin.base_url).rstrip("/").removesuffix("/fhir") + "/cds-services"


def _order(patient: str, order_id: str, code: str) -> dict[str, Any]:
    return {**draft(patient, code), "id": order_id}


def _call(clinic: Clinic, service: str, body: dict[str, Any], client: httpx.Client | None = None) -> httpx.Response:
    return (client or clinic.doctor).post(f"{_hooks(clinic)}/{service}", json=body)


def _request(hook: str, patient: str, orders: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    context = {"userId": "Practitioner/1", "patientId": patient.split("/")[1],
               "draftOrders": {"resourceType": "Bundle", "type": "collection",
                               "entry": [{"resource": o} for o in orders]}}  # fmt: skip
    context.update(extra.pop("context", {}))
    return {"hook": hook, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "context": context, **extra}


def test_discovery_lists_both_hooks_with_prefetch_templates(clinic: Clinic) -> None:
    services = httpx.get(_hooks(clinic)).json()["services"]  # public, no token
    assert {(s["id"], s["hook"]) for s in services} == {(SIGN, "order-sign"), (SELECT, "order-select")}
    assert all(s["prefetch"]["allergies"] == "AllergyIntolerance?patient={{context.patientId}}" for s in services)


def test_order_sign_with_prefetch_from_the_client(clinic: Clinic) -> None:
    patient = "Patient/not-stored-here"
    current = {**_order(patient, "w1", WARFARIN), "status": "active"}
    prefetch = {"patient": {"resourceType": "Patient", "id": "not-stored-here"},
                "allergies": {"resourceType": "Bundle", "type": "searchset", "entry": []},
                "medications": {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": current}]},
                "statements": {"resourceType": "Bundle", "type": "searchset", "entry": []}}  # fmt: skip
    body = _request("order-sign", patient, [_order(patient, "new-1", IBUPROFEN)], prefetch=prefetch)
    response = _call(clinic, SIGN, body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert len(cards) == 1 and cards[0]["indicator"] == "critical" and "bleeding" in cards[0]["summary"]
    assert cards[0]["selectionBehavior"] == "at-most-one" and cards[0]["overrideReasons"]
    actions = [s["actions"][0] for s in cards[0]["suggestions"]]
    assert actions[0] == {"type": "delete", "description": actions[0]["description"],
                          "resourceId": "MedicationRequest/new-1"}  # fmt: skip
    assert actions[1]["type"] == "update" and actions[1]["resource"]["status"] == "stopped"
    assert actions[1]["resource"]["id"] == "w1"


def test_order_sign_without_prefetch_reads_this_servers_store(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    allergy(clinic.admin, patient, PENICILLIN)
    body = _request("order-sign", patient, [_order(patient, "a1", AMOXICILLIN), _order(patient, "l1", LISINOPRIL)])
    cards = _call(clinic, SIGN, body).json()["cards"]
    assert [c["indicator"] for c in cards] == ["critical"] and "allergic" in cards[0]["detail"]


def test_order_select_fetches_from_another_fhir_server_and_checks_the_selection(
    clinic: Clinic, client: httpx.Client, base_url: str
) -> None:
    patient = f"Patient/{client.post('/Patient', json={'resourceType': 'Patient'}).json()['id']}"
    statement = {"resourceType": "MedicationStatement", "status": "active", "subject": {"reference": patient},
                 "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                           "code": WARFARIN}]}}  # fmt: skip
    assert client.post("/MedicationStatement", json=statement).status_code == 201
    orders = [_order(patient, "n1", IBUPROFEN), _order(patient, "n2", LISINOPRIL)]
    body = _request("order-select", patient, orders, context={"selections": ["MedicationRequest/n2"]},
                    fhirServer=base_url, fhirAuthorization={"access_token": "unused-by-an-open-server",
                    "token_type": "Bearer", "expires_in": 300, "scope": "user/*.rs", "subject": "cds"})  # fmt: skip
    assert _call(clinic, SELECT, body).json()["cards"] == []  # only lisinopril is selected
    body["context"]["selections"] = ["MedicationRequest/n1"]
    cards = _call(clinic, SELECT, body).json()["cards"]
    assert [c["indicator"] for c in cards] == ["critical"] and "Warfarin" in cards[0]["detail"]


def test_bad_calls(clinic: Clinic, rx_server: ServerProcess) -> None:
    patient = "Patient/x"
    body = _request("order-sign", patient, [])
    assert _call(clinic, "no-such-service", body).status_code == 404
    wrong = _call(clinic, SELECT, body)
    assert wrong.status_code == 400 and wrong.json()["resourceType"] == "OperationOutcome"
    assert clinic.doctor.post(f"{_hooks(clinic)}/{SIGN}", content=b"not json").status_code == 400
    assert httpx.post(f"{rx_server.base}/cds-services/{SIGN}", json=body).status_code == 401
