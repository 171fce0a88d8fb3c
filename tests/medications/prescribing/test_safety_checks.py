"""The safety checks at `$sign`: each finding a DetectedIssue returned and linked from the request; a high
severity one blocks signing (409, nothing written) unless the prescriber gives an override reason."""

from __future__ import annotations

from typing import Any

from .conftest import (
    ACETAMINOPHEN,
    AMOXICILLIN,
    IBUPROFEN,
    LISINOPRIL,
    NAPROXEN_INGREDIENT,
    PENICILLIN,
    WARFARIN,
    Clinic,
    active_medication,
    allergy,
    created,
    draft,
    new_patient,
    out,
    sign,
)


def _draft(clinic: Clinic, patient: str, code: str, **extra: Any) -> str:
    return str(created(clinic.doctor.post("/MedicationRequest", json=draft(patient, code, **extra)))["id"])


def _unchanged(clinic: Clinic, request_id: str) -> None:
    stored = clinic.admin.get(f"/MedicationRequest/{request_id}").json()
    assert stored["status"] == "draft" and stored["meta"]["versionId"] == "1"
    assert "detectedIssue" not in stored
    issues = clinic.admin.get("/DetectedIssue", params={"implicated": f"MedicationRequest/{request_id}"}).json()
    assert issues.get("total", len(issues.get("entry", []))) == 0


def test_warfarin_with_an_nsaid_blocks_signing_until_overridden(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    taking = active_medication(clinic.admin, patient, WARFARIN)
    request_id = _draft(clinic, patient, IBUPROFEN)
    blocked = sign(clinic.doctor, request_id)
    assert blocked.status_code == 409, blocked.text
    outcome = blocked.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "business-rule" and "bleeding" in outcome["issue"][0]["diagnostics"]
    contained = outcome["contained"]
    assert [i["code"]["coding"][0]["code"] for i in contained] == ["DRG"]
    assert {"reference": taking} in contained[0]["implicated"]
    _unchanged(clinic, request_id)

    signed = sign(clinic.doctor, request_id, override="Short course, INR monitored weekly")
    assert signed.status_code == 200, signed.text
    issue = out(signed.json(), "issue")[0]
    assert issue["severity"] == "high" and "INR monitored" in issue["mitigation"][0]["action"]["text"]
    assert issue["mitigation"][0]["author"]["reference"] == clinic.physician
    assert issue["reference"] == "https://hl7.org/fhir/uv/pddi/Library-WarfarinNSAIDsCDSLogic.html"
    stored = clinic.admin.get(f"/MedicationRequest/{request_id}").json()
    assert stored["detectedIssue"] == [{"reference": f"DetectedIssue/{issue['id']}"}]
    assert clinic.admin.get(f"/DetectedIssue/{issue['id']}").status_code == 200
    provenance = out(signed.json(), "provenance")[0]
    assert "INR monitored" in provenance["reason"][0]["text"]
    assert {"role": "source", "what": {"reference": f"DetectedIssue/{issue['id']}"}} in provenance["entity"]


def test_the_interaction_is_found_both_ways_and_against_active_requests(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    nsaid = _draft(clinic, patient, IBUPROFEN)
    assert sign(clinic.doctor, nsaid).status_code == 200  # an active MedicationRequest now
    warfarin = _draft(clinic, patient, WARFARIN)
    blocked = sign(clinic.doctor, warfarin)
    assert blocked.status_code == 409
    assert {"reference": f"MedicationRequest/{nsaid}"} in blocked.json()["contained"][0]["implicated"]


def test_an_allergy_to_the_ingredient_or_its_class_blocks_signing(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    allergic = allergy(clinic.admin, patient, PENICILLIN)  # penicillin: the whole class
    request_id = _draft(clinic, patient, AMOXICILLIN)
    blocked = sign(clinic.doctor, request_id)
    assert blocked.status_code == 409
    issue = blocked.json()["contained"][0]
    assert issue["code"]["coding"][0]["code"] == "ALGY" and {"reference": allergic} in issue["implicated"]
    _unchanged(clinic, request_id)


def test_a_refuted_allergy_does_not_count(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    body = {"resourceType": "AllergyIntolerance", "patient": {"reference": patient},
            "verificationStatus": {"coding": [{"system":
                "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "refuted"}]},
            "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "723"}]}}  # fmt: skip
    created(clinic.admin.post("/AllergyIntolerance", json=body))
    assert sign(clinic.doctor, _draft(clinic, patient, AMOXICILLIN)).status_code == 200


def test_duplicate_therapy_is_reported_without_blocking(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    naproxen = active_medication(clinic.admin, patient, NAPROXEN_INGREDIENT)
    signed = sign(clinic.doctor, _draft(clinic, patient, IBUPROFEN))
    assert signed.status_code == 200, signed.text
    issues = out(signed.json(), "issue")
    assert [(i["code"]["coding"][0]["code"], i["severity"]) for i in issues] == [("DUPTHPY", "moderate")]
    assert {"reference": naproxen} in issues[0]["implicated"] and "mitigation" not in issues[0]


def test_a_dose_above_the_daily_maximum_blocks_signing(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    request_id = _draft(clinic, patient, ACETAMINOPHEN, frequency=5, dose={"value": 2, "unit": "tablet"})  # 5 g a day
    blocked = sign(clinic.doctor, request_id)
    assert blocked.status_code == 409
    details = [i["detail"] for i in blocked.json()["contained"]]
    assert any("5000 mg" in d and "4000 mg" in d for d in details), details
    within = _draft(clinic, patient, ACETAMINOPHEN, frequency=3, dose={"value": 1000, "unit": "mg", "code": "mg"})
    assert sign(clinic.doctor, within).status_code == 200


def test_no_findings_no_issues(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    active_medication(clinic.admin, patient, WARFARIN)
    signed = sign(clinic.doctor, _draft(clinic, patient, LISINOPRIL))
    assert signed.status_code == 200 and out(signed.json(), "issue") == []
