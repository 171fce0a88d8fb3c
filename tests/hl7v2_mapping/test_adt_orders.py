"""ADT and order (ORM^O01, OML^O21) samples, and unsupported messages."""

from __future__ import annotations

from decimal import Decimal

from adapters.hl7v2.mapping import map_message

from .samples import entries, message, messages, resources

V3_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def test_adt_a01_patient_and_encounter_are_conditional_updates() -> None:
    bundle = map_message(message("fhirconv_ADT-A01-01.hl7")).bundle
    (patient_entry,) = entries(bundle, "Patient")
    assert patient_entry["request"] == {
        "method": "PUT",
        "url": "Patient?identifier=urn:hl7v2:assigning-authority:test1|PATID1234",
    }
    patient = patient_entry["resource"]
    assert [i["value"] for i in patient["identifier"]] == ["PATID1234", "123456789"]
    assert patient["name"][0]["family"] == "EVERYMAN" and patient["name"][0]["given"] == ["ADAM", "A"]
    assert patient["gender"] == "male" and patient["birthDate"] == "1988-08-18"
    assert patient["maritalStatus"]["coding"][0]["code"] == "M"
    (encounter,) = resources(bundle, "Encounter")
    assert encounter["status"] == "in-progress"
    assert encounter["class"] == {"system": V3_ACT, "code": "PRENC", "display": "pre-admission"}
    assert encounter["identifier"][0]["value"] == "40007716"
    assert encounter["location"][0]["location"]["display"].startswith("HUH AE OMU OMU B Bed 03")
    assert encounter["subject"]["reference"] == patient_entry["fullUrl"]


def test_adt_a08_non_standard_structure_and_a04_without_structure() -> None:
    a08 = map_message(message("fhirconv_ADT-A08-01.hl7"))
    assert a08.bundle is not None and len(resources(a08.bundle, "Encounter")) == 1
    a04 = map_message(message("fhirconv_ADT04-251.hl7"))
    (patient,) = resources(a04.bundle, "Patient")
    assert patient["identifier"][0]["value"] == "MRN12345"
    assert patient["identifier"][0]["system"] == "urn:hl7v2:assigning-authority:RDX"  # MSH-4 stands in
    assert patient["name"] == [{"family": "Doe", "given": ["Jane"]}]
    assert patient["birthDate"] == "1978-01-01" and patient["gender"] == "female"
    assert resources(a04.bundle, "Encounter") == []  # no PV1-19
    assert [(e.code, e.location, e.severity) for e in a04.errors] == [("101", "PV1^1^19", "W")]


ADT = (
    "MSH|^~\\&|ADT|HOSP|||20240105101500+0100||ADT^{event}|1|P|2.5\r"
    "EVN|{event}|20240105101500+0100||||20240105100000+0100\r"
    "PID|||P1^^^HOSP^MR||Roe^Ann||19900101|F\r"
    "PV1||I|W1^101^A||||||||||||||||V1^^^HOSP^VN|||||||||||||||||||||||||20240101080000+0100{end}"
)


def test_adt_a03_discharge_and_a11_cancel() -> None:
    a03 = map_message(ADT.format(event="A03", end="")).bundle
    (encounter,) = resources(a03, "Encounter")
    assert encounter["status"] == "finished"
    assert encounter["period"] == {"start": "2024-01-01T08:00:00+01:00", "end": "2024-01-05T10:00:00+01:00"}
    a11 = map_message(ADT.format(event="A11", end="")).bundle
    (cancelled,) = resources(a11, "Encounter")
    assert cancelled["status"] == "cancelled"
    assert (
        entries(a11, "Encounter")[0]["request"]["url"] == "Encounter?identifier=urn:hl7v2:assigning-authority:HOSP|V1"
    )
    a08 = map_message(ADT.format(event="A08", end="|20240103120000+0100")).bundle
    (updated,) = resources(a08, "Encounter")
    assert updated["status"] == "finished" and updated["period"]["end"] == "2024-01-03T12:00:00+01:00"
    assert updated["class"]["code"] == "IMP"


def test_orm_o01_order() -> None:
    bundle = map_message(message("fhirconv_LAB-ORM-1.hl7")).bundle
    (entry,) = entries(bundle, "ServiceRequest")
    assert entry["request"] == {"method": "PUT", "url": "ServiceRequest?identifier=urn:hl7v2:placer-order|88502218"}
    order = entry["resource"]
    assert order["status"] == "active" and order["intent"] == "order"
    assert order["code"]["coding"][0]["code"] == "24317-0"
    assert [i["value"] for i in order["identifier"]] == ["88502218", "82503246"]
    assert order["subject"]["reference"] == entries(bundle, "Patient")[0]["fullUrl"]
    (encounter,) = resources(bundle, "Encounter")
    assert encounter["class"]["code"] == "IMP"


def test_oml_o21_ask_at_order_entry_answers() -> None:
    bundle = map_message(message("reportstream_sample_oml_20240319-001.hl7")).bundle
    (order,) = resources(bundle, "ServiceRequest")
    assert order["identifier"][0] == {
        "value": "421832901",
        "system": "urn:oid:1.2.840.114350.1.13.145.2.7.2.695071",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PLAC"}]},
    }
    assert order["code"]["coding"][0]["code"] == "54089-8"
    answers = {e["fullUrl"]: e["resource"] for e in entries(bundle, "Observation")}
    assert [r["reference"] for r in order["supportingInfo"]] == list(answers)
    assert len(answers) == 12
    weight = next(a for a in answers.values() if a["code"]["coding"][0]["code"] == "8339-4")
    assert weight["valueQuantity"]["value"] == Decimal("1769.859285") and weight["valueQuantity"]["code"] == "g"
    feeding = [a for a in answers.values() if a["code"]["coding"][0]["code"] == "67704-7"]
    assert [f["identifier"][0]["value"] for f in feeding] == ["421832901-67704-7-1", "421832901-67704-7-2"]
    (specimen,) = resources(bundle, "Specimen")
    assert specimen["type"]["coding"][0]["code"] == "440500042"


def test_hapi_oml_orders_status_and_specimens() -> None:
    found = messages("hapi_example_oml_o21.hl7")
    assert len(found) == 13
    status_update = map_message(found[1]).bundle
    (order,) = resources(status_update, "ServiceRequest")
    assert order["status"] == "active"  # ORC-5 IP
    rejected = resources(status_update, "Specimen")[2]
    assert rejected["condition"][0]["text"] == "Broken container"
    cancel = map_message(found[4]).bundle
    assert len(resources(cancel, "Specimen")) == 5
    no_header_ids = map_message(found[10])
    assert len(resources(no_header_ids.bundle, "ServiceRequest")) == 3


def test_unsupported_types_and_events_are_refused() -> None:
    found = messages("hapi_example_oml_o21.hl7")
    oul = map_message(found[2])
    assert oul.bundle is None
    assert [(e.code, e.severity, e.supported) for e in oul.errors] == [("200", "E", False)]
    event = map_message(ADT.format(event="A02", end=""))
    assert event.bundle is None and [(e.code, e.supported) for e in event.errors] == [("201", False)]
    assert map_message("PID|1").errors[0].severity == "E"
