"""`$sign` over real HTTP: the signer's role, the signature (JWS verified with the published JWKS), the life
cycle (a signed prescription cannot be edited on any write path) and the bad input of drafts."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from fhir_server.medications.prescribing.life_cycle import is_signed
from fhir_server.medications.prescribing.signature import verify
from tests.conftest import outcome_codes

from .conftest import LISINOPRIL, RXNORM, Clinic, created, draft, new_patient, out, sign


def _signed(clinic: Clinic, **extra: Any) -> tuple[str, dict[str, Any]]:
    patient = new_patient(clinic.admin)
    request = created(clinic.doctor.post("/MedicationRequest", json=draft(patient, **extra)))
    response = sign(clinic.doctor, request["id"])
    assert response.status_code == 200, response.text
    return request["id"], response.json()


def test_a_physician_signs_a_draft_and_the_signature_verifies_with_the_jwks(clinic: Clinic) -> None:
    request_id, result = _signed(clinic)
    prescription = out(result, "prescription")[0]
    assert prescription["status"] == "active" and is_signed(prescription)
    assert prescription["requester"]["reference"] == clinic.physician
    provenance = out(result, "provenance")[0]
    assert provenance["target"][0]["reference"] == f"MedicationRequest/{request_id}/_history/2"
    signature = provenance["signature"][0]
    assert signature["who"]["reference"] == clinic.physician and signature["sigFormat"] == "application/jose"
    token = base64.b64decode(signature["data"]).decode("ascii")
    jwks = httpx.get(str(clinic.admin.base_url).removesuffix("/fhir/") .removesuffix("/fhir")
                     + "/.well-known/prescriber-keys.json").json()["keys"]  # fmt: skip
    stored = clinic.admin.get(f"/MedicationRequest/{request_id}").json()
    assert verify(token, jwks, stored)
    assert not verify(token, jwks, {**stored, "status": "completed"})  # the signature covers the content
    assert clinic.admin.get(f"/Provenance/{provenance['id']}").status_code == 200


def test_the_same_key_signs_each_prescription_of_a_prescriber(clinic: Clinic) -> None:
    headers = []
    for _n in range(2):
        _id, result = _signed(clinic)
        token = base64.b64decode(out(result, "provenance")[0]["signature"][0]["data"]).decode()
        headers.append(token.split(".")[0])
    assert headers[0] == headers[1]  # same alg and kid


def test_only_a_prescriber_role_may_sign(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    request = created(clinic.admin.post("/MedicationRequest", json=draft(patient)))
    for client in (clinic.nurse, clinic.admin):
        response = sign(client, request["id"])
        assert response.status_code == 403, response.text
        assert outcome_codes(response) == ["forbidden"]
    assert clinic.admin.get(f"/MedicationRequest/{request['id']}").json()["status"] == "draft"
    assert clinic.admin.get("/Provenance", params={"target": f"MedicationRequest/{request['id']}"}).json().get(
        "total", 0) == 0  # fmt: skip


def test_signing_twice_is_a_conflict(clinic: Clinic) -> None:
    request_id, _result = _signed(clinic)
    again = sign(clinic.doctor, request_id)
    assert again.status_code == 409
    assert again.json()["issue"][0]["expression"] == ["MedicationRequest.status"]


def test_a_signed_prescription_cannot_be_edited_on_any_write_path(clinic: Clinic) -> None:
    request_id, _result = _signed(clinic)
    url = f"/MedicationRequest/{request_id}"
    stored = clinic.admin.get(url).json()
    changed = {**stored, "dispenseRequest": {**stored["dispenseRequest"], "quantity": {"value": 90}}}
    put = clinic.admin.put(url, json=changed)
    assert put.status_code == 409, put.text
    patch = clinic.admin.patch(
        url,
        json=[{"op": "replace", "path": "/dispenseRequest/numberOfRepeatsAllowed", "value": 9}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert patch.status_code == 409, patch.text
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": changed, "request": {"method": "PUT", "url": f"MedicationRequest/{request_id}"}}],
    }
    assert clinic.admin.post("/", json=bundle).status_code == 409
    assert clinic.admin.delete(url).status_code == 409
    untagged = {k: v for k, v in stored.items() if k != "meta"}
    assert clinic.admin.put(url, json=untagged).status_code == 409  # dropping the tag is an edit too
    after = clinic.admin.get(url).json()
    assert after["meta"]["versionId"] == stored["meta"]["versionId"]
    stopped = clinic.admin.put(url, json={**stored, "status": "stopped"})  # the status moves on
    assert stopped.status_code == 200, stopped.text
    assert clinic.admin.put(url, json={**stopped.json(), "status": "active"}).status_code == 409


def test_a_draft_cannot_be_made_active_or_signed_without_sign(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    request = created(clinic.doctor.post("/MedicationRequest", json=draft(patient)))
    url = f"/MedicationRequest/{request['id']}"
    response = clinic.doctor.put(url, json={**request, "status": "active"})
    assert response.status_code == 409 and response.json()["issue"][0]["expression"] == ["MedicationRequest.status"]
    forged = draft(patient, meta={"tag": [{"system": "urn:fhir-server:prescribing", "code": "signed"}]})
    assert clinic.doctor.post("/MedicationRequest", json=forged).status_code == 409
    assert clinic.doctor.put(url, json={**request, "status": "cancelled"}).status_code == 200


def test_bad_drafts_are_refused_naming_the_element(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    unknown = {"coding": [{"system": RXNORM, "code": "99999999"}]}
    cases = [
        (draft(patient, medicationCodeableConcept=unknown), "MedicationRequest.medicationCodeableConcept.coding"),
        (draft(patient, medicationCodeableConcept={"text": "aspirin"}),
         "MedicationRequest.medicationCodeableConcept.coding"),
        (draft(patient, quantity=0), "MedicationRequest.dispenseRequest.quantity.value"),
        (draft(patient, quantity=-5), "MedicationRequest.dispenseRequest.quantity.value"),
        (draft(patient, dose={"value": 0, "unit": "tablet"}),
         "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.value"),
        (draft(patient, dosageInstruction=[{"doseAndRate": [{"doseQuantity": {"value": 1}}]}]),
         "MedicationRequest.dosageInstruction[0].timing"),
        (draft(patient, priorPrescription={"reference": "MedicationRequest/nope"}),
         "MedicationRequest.priorPrescription"),
    ]  # fmt: skip
    before = clinic.admin.get("/MedicationRequest", params={"patient": patient, "_summary": "count"}).json()["total"]
    for body, expression in cases:
        response = clinic.doctor.post("/MedicationRequest", json=body)
        assert response.status_code == 422, (expression, response.text)
        assert response.json()["issue"][0]["expression"] == [expression], response.text
    after = clinic.admin.get("/MedicationRequest", params={"patient": patient, "_summary": "count"}).json()["total"]
    assert after == before


def test_an_incomplete_draft_is_kept_but_not_signed(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    body = draft(patient)
    del body["dispenseRequest"]
    request = created(clinic.doctor.post("/MedicationRequest", json=body))
    response = sign(clinic.doctor, request["id"])
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["MedicationRequest.dispenseRequest.quantity.value"]


def test_a_formulary_medication_on_the_server_is_accepted(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    ndc = {"system": "http://hl7.org/fhir/sid/ndc", "code": "0000-0000-01"}
    clinic.admin.post("/Medication", json={"resourceType": "Medication", "code": {"coding": [ndc]}})
    body = draft(patient, medicationCodeableConcept={"coding": [ndc]})
    request = created(clinic.doctor.post("/MedicationRequest", json=body))
    assert sign(clinic.doctor, request["id"]).status_code == 200


def test_a_renewal_names_a_signed_prior_prescription(clinic: Clinic) -> None:
    prior_id, result = _signed(clinic)
    patient = out(result, "prescription")[0]["subject"]["reference"]
    renewal = draft(patient, LISINOPRIL, priorPrescription={"reference": f"MedicationRequest/{prior_id}"})
    request = created(clinic.doctor.post("/MedicationRequest", json=renewal))
    signed = sign(clinic.doctor, request["id"])
    assert signed.status_code == 200, signed.text
    assert out(signed.json(), "issue") == []  # the prescription it renews is no duplicate
    other = new_patient(clinic.admin)
    wrong = draft(other, priorPrescription={"reference": f"MedicationRequest/{prior_id}"})
    response = clinic.doctor.post("/MedicationRequest", json=wrong)
    assert response.status_code == 422 and response.json()["issue"][0]["expression"] == ["MedicationRequest.subject"]


def test_an_unknown_sign_parameter_is_refused(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    request = created(clinic.doctor.post("/MedicationRequest", json=draft(patient)))
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "overide", "valueString": "typo"}]}
    response = clinic.doctor.post(f"/MedicationRequest/{request['id']}/$sign", json=parameters)
    assert response.status_code == 400 and outcome_codes(response) == ["not-supported"]
    assert clinic.admin.get(f"/MedicationRequest/{request['id']}").json()["status"] == "draft"


def test_two_signings_at_once_sign_once(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    request = created(clinic.doctor.post("/MedicationRequest", json=draft(patient)))
    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(lambda _n: sign(clinic.doctor, request["id"]).status_code, range(4)))
    assert statuses[0] == 200 and all(s in (409, 412) for s in statuses[1:]), statuses
    provenances = clinic.admin.get("/Provenance", params={"target": f"MedicationRequest/{request['id']}/_history/2"})
    assert len(provenances.json().get("entry", [])) == 1
    assert clinic.admin.get(f"/MedicationRequest/{request['id']}").json()["meta"]["versionId"] == "2"
