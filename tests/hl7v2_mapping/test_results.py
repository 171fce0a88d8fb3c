"""ORU^R01 samples → Patient, DiagnosticReport, Observation, Specimen, placeholder order and review Task."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.hl7v2.mapping import MappingOptions, map_message
from adapters.hl7v2.mapping.results import UNSOLICITED_TAG

from .samples import entries, message, messages, resources

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _by_code(bundle: dict[str, Any] | None, code: str) -> dict[str, Any]:
    (found,) = [o for o in resources(bundle, "Observation") if o["code"]["coding"][0].get("code") == code]
    return found


def test_lab_oru_1_patient_reports_observations_specimen() -> None:
    result = map_message(message("fhirconv_LAB-ORU-1.hl7"))
    bundle = result.bundle
    assert bundle is not None and bundle["type"] == "transaction"
    (patient_entry,) = entries(bundle, "Patient")
    patient = patient_entry["resource"]
    assert patient["identifier"][0] == {
        "value": "10006579",
        "system": "urn:hl7v2:assigning-authority:1",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
    }
    assert patient["name"] == [{"family": "DUCK", "given": ["DONALD", "D"]}]
    assert patient["birthDate"] == "1924-10-10" and patient["gender"] == "male"
    assert patient_entry["request"] == {
        "method": "POST",
        "url": "Patient",
        "ifNoneExist": "identifier=urn:hl7v2:assigning-authority:1|10006579",
    }
    reports = {r["identifier"][0]["value"]: r for r in resources(bundle, "DiagnosticReport")}
    assert set(reports) == {"82503246", "890775544"}
    assert reports["82503246"]["status"] == "final"
    assert reports["82503246"]["code"]["coding"][0] == {
        "system": LOINC,
        "code": "24317-0",
        "display": "Hemogram and platelet count, automated",
    }
    assert reports["890775544"]["status"] == "unknown"  # the sample puts its status in OBR-26, not OBR-25
    assert any(e.code == "101" and e.location == "OBR^2^25" and e.severity == "W" for e in result.errors)
    assert len(reports["82503246"]["result"]) == 5 and len(resources(bundle, "Observation")) == 10
    leukocytes = _by_code(bundle, "11156-7")
    assert leukocytes["status"] == "registered" and "valueQuantity" not in leukocytes
    erythrocytes = _by_code(bundle, "11273-0")
    assert erythrocytes["status"] == "preliminary"
    assert erythrocytes["valueQuantity"] == {
        "value": Decimal("4.06"),
        "unit": "tera.l-1",
        "system": UCUM,
        "code": "10*12/L",
    }
    assert erythrocytes["interpretation"][0]["coding"][0]["code"] == "N"
    assert erythrocytes["effectiveDateTime"] == "2014-10-06T06:27:00+07:00"
    assert erythrocytes["identifier"] == [{"system": "urn:hl7v2:obx", "value": "82503246-11273-0-"}]
    assert _by_code(bundle, "11125-2")["status"] == "final"
    (specimen,) = resources(bundle, "Specimen")  # both SPM name "SpecimenID": one resource
    assert specimen["identifier"] == [{"value": "SpecimenID", "system": "urn:hl7v2:specimen"}]
    assert specimen["type"] == {"coding": [{"code": "BLD"}]}
    assert specimen["collection"] == {"collectedDateTime": "2014-10-06T05:35:00+07:00"}
    assert erythrocytes["specimen"]["reference"] == entries(bundle, "Specimen")[0]["fullUrl"]


def test_unknown_orders_get_a_placeholder_and_a_review_task() -> None:
    bundle = map_message(message("fhirconv_LAB-ORU-1.hl7")).bundle
    orders = entries(bundle, "ServiceRequest")
    assert len(orders) == 2
    order = orders[0]
    assert order["request"]["ifNoneExist"] == "identifier=urn:hl7v2:placer-order|88502218"
    assert order["resource"]["status"] == "unknown" and order["resource"]["intent"] == "order"
    assert order["resource"]["meta"]["tag"] == [UNSOLICITED_TAG]
    report = next(
        e for e in entries(bundle, "DiagnosticReport") if e["resource"]["identifier"][0]["value"] == "82503246"
    )
    assert report["resource"]["basedOn"] == [{"reference": order["fullUrl"]}]
    tasks = [e["resource"] for e in entries(bundle, "Task")]
    assert len(tasks) == 2
    task = next(t for t in tasks if t["focus"]["reference"] == report["fullUrl"])
    assert task["status"] == "requested" and task["code"]["text"] == "review unsolicited result"
    known = map_message(message("fhirconv_LAB-ORU-1.hl7"), MappingOptions(order_exists=lambda s, v: True)).bundle
    assert entries(known, "Task") == []


def test_lri_cbc_ranges_flags_coded_and_text_values() -> None:
    bundle = map_message(message("fhirconv_LRI_2.0-NG_CBC_Typ_Message.hl7")).bundle
    rbc = _by_code(bundle, "26453-1")
    assert rbc["valueQuantity"] == {
        "value": Decimal("4.41"),
        "unit": "million per microliter",
        "system": UCUM,
        "code": "10*6/uL",
    }
    reference_range = rbc["referenceRange"][0]
    assert reference_range["low"]["value"] == Decimal("4.3") and reference_range["high"]["value"] == Decimal("6.2")
    assert rbc["referenceRange"][0]["text"] == "4.3 to 6.2"
    assert _by_code(bundle, "26464-8")["interpretation"][0]["coding"][0] == {
        "system": V3,
        "code": "HH",
        "display": "Critical high",
    }
    assert _by_code(bundle, "718-7")["interpretation"][0]["coding"][0]["code"] == "L"
    aniso = _by_code(bundle, "38892-6")
    assert aniso["valueCodeableConcept"]["coding"][0]["code"] == "260348001"
    assert aniso["valueCodeableConcept"]["text"] == "Moderate Anisocytosis"
    assert _by_code(bundle, "6742-1")["valueString"] == "Many spherocytes present."
    (report,) = resources(bundle, "DiagnosticReport")
    codings = report["code"]["coding"]  # both triplets of OBR-4 kept
    assert [c["code"] for c in codings] == ["57021-8", "4456544"]
    assert report["effectiveDateTime"] == "2011-01-03T14:34:28-08:00"
    (specimen,) = resources(bundle, "Specimen")
    assert specimen["type"]["coding"][0]["code"] == "119297000"


def test_rmgead_structured_numeric_and_underscore_range() -> None:
    bundle = map_message(message("fhirconv_ORU-R01-RMGEAD.hl7")).bundle
    (obs,) = resources(bundle, "Observation")
    assert obs["valueQuantity"] == {"value": 182, "unit": "mg/dl", "system": UCUM, "code": "mg/dL"}
    assert obs["referenceRange"][0]["low"]["value"] == 70 and obs["referenceRange"][0]["high"]["value"] == 105
    assert obs["interpretation"][0]["coding"][0]["code"] == "H"
    (patient,) = resources(bundle, "Patient")
    assert patient["identifier"][0] == {"value": "555-44-4444", "system": "urn:hl7v2:assigning-authority:ELAB-3"}
    assert patient["name"][0]["family"] == "EVERYWOMAN" and patient["birthDate"] == "1962-03-20"


def test_newborn_screening_dirty_data() -> None:
    text = message("reportstream_sample_oru_CDPH_NBS_20241021-001.hl7")
    refused = map_message(text)  # by default an OBX-14 that cannot be stored refuses the message
    assert refused.bundle is None
    assert {e.location for e in refused.errors if e.severity == "E"} == {"OBX^4^14", "OBX^13^14"}
    result = map_message(text, MappingOptions(accept_invalid=True))  # a sender allowed to store without them
    bundle = result.bundle
    (patient,) = resources(bundle, "Patient")
    assert patient["identifier"][0]["system"] == "urn:hl7v2:assigning-authority:NPI"
    assert patient["birthDate"] == "2024-10-15"
    ohp = _by_code(bundle, "38473-5")
    assert ohp["valueQuantity"]["value"] == Decimal("65.88") and ohp["valueQuantity"]["code"] == "nmol/L"
    assert ohp["referenceRange"] == [{"high": ohp["referenceRange"][0]["high"], "text": "<85"}]
    assert ohp["referenceRange"][0]["high"]["value"] == 85
    local = _by_code(bundle, "99717-6")  # alternate triplet only (local code)
    assert local["code"]["coding"][0]["system"] == "urn:hl7v2:coding-system:L"
    assert local["interpretation"][0]["coding"][0]["code"] == "H"
    assert _by_code(bundle, "53341-4")["valueQuantity"]["value"] == Decimal("0.02")
    assert _by_code(bundle, "46758-9")["valueCodeableConcept"]["coding"][0]["code"] == "LA18592-8"
    assert _by_code(bundle, "57706-4")["valueString"] == "Negative"
    assert _by_code(bundle, "57706-4")["identifier"][0]["value"].endswith("-57706-4-001.54")
    bad = [e for e in result.errors if e.location.endswith("^14")]
    assert bad and all(e.code == "102" and e.severity == "W" for e in bad)
    assert "effectiveDateTime" in _by_code(bundle, "53345-5")  # falls back to OBR-7
    assert len(resources(bundle, "DiagnosticReport")) == 2  # OBR 2 and 3 repeat one report


def test_elr_placeholders_invalid_birth_date_notes_and_dates() -> None:
    result = map_message(message("reportstream_ORU_deidentified.hl7"))
    bundle = result.bundle
    (patient,) = resources(bundle, "Patient")
    assert "birthDate" not in patient
    assert patient["identifier"][0]["system"] == "urn:oid:2.16.840.1.113883.3.8589.4.2.106.2"
    assert any(e.code == "102" and e.location == "PID^1^7" and e.severity == "W" for e in result.errors)
    covid = _by_code(bundle, "97097-0")
    assert covid["valueCodeableConcept"]["coding"][0] == {
        "system": "http://snomed.info/sct",
        "code": "260373001",
        "display": "Detected",
    }
    assert covid["note"] == [{"text": "BD Veritor At-Home COVID-19 Test_Becton, Dickinson and Company (BD)_EUA"}]
    assert _by_code(bundle, "65222-2")["valueDateTime"] == "2024-04-11"
    assert _by_code(bundle, "35659-2")["valueQuantity"] == {"value": 44, "unit": "year", "system": UCUM, "code": "a"}
    (specimen,) = resources(bundle, "Specimen")
    assert specimen["identifier"][0]["value"] == "ff98cc992d5146e7916a5f0b873e534f"
    assert specimen["type"]["coding"][0]["code"] == "697989009"


def test_batch_messages_map_one_by_one() -> None:
    found = messages("reportstream_batch_message.hl7")
    assert len(found) == 2
    names = []
    for text in found:
        bundle = map_message(text).bundle
        (patient,) = resources(bundle, "Patient")
        names.append(patient["name"][0]["family"])
        assert len(resources(bundle, "Observation")) == 5
        assert _by_code(bundle, "94558-4")["valueCodeableConcept"]["coding"][0]["code"] == "260415000"
    assert names == ["Buckridge", "Keeling"]


def test_all_fields_sample_rp_and_repeats() -> None:
    result = map_message(message("fhirconv_ORU-R01-01.hl7"))
    rp = _by_code(result.bundle, "1063-7")
    assert rp["extension"][0]["valueAttachment"] == {"url": "https://testurl.com"}
    assert any(e.code == "101" and e.location.startswith("OBX") for e in result.errors)  # OBX without OBX-3
    assert len(resources(result.bundle, "Encounter")) == 1


def test_oru_without_patient_identifier_is_not_mapped() -> None:
    oru = next(m for m in messages("hapi_example_oml_o21.hl7") if "ORU^R01" in m.split("\r")[0])
    result = map_message(oru)
    assert result.bundle is None
    assert [(e.code, e.location, e.severity) for e in result.errors] == [("101", "PID^1^3", "E")]
