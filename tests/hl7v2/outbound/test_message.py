"""The order message: valid v2.5.1 (hl7apy, strict), read back by our own inbound mapping, and results
for a sent order link to its ServiceRequest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from adapters.hl7v2.mapping import map_message
from adapters.hl7v2.mapping.datatypes import ei as read_ei
from adapters.hl7v2.mapping.datatypes import hd_system
from adapters.hl7v2.mapping.orders import PLACER_SYSTEM
from adapters.hl7v2.mapping.segments import Delimiters, Value
from adapters.hl7v2.outbound.datatypes import ei
from adapters.hl7v2.outbound.lab import Lab, LabConfigError, lab_of
from adapters.hl7v2.outbound.message import OrderData, OrderError, order_message
from fhir_server.engine import read_resource
from fhir_server.engine.bundle import process_bundle
from fhir_server.fhir_json import loads
from fhir_server.storage import EmbeddedDatabase
from tests.conftest import TEST_POLICY

from . import CONNECTION, LOINC_GLUCOSE, STRUCTURES, TestLab, fields, statuses, world

REQUEST = {
    "resourceType": "ServiceRequest", "id": "sr-1", "status": "active", "intent": "order", "priority": "urgent",
    "code": LOINC_GLUCOSE, "note": [{"text": "fasting ^ 12 h"}], "requester": {"reference": "Practitioner/d1"},
}  # fmt: skip
PATIENT = {
    "resourceType": "Patient", "id": "p1", "name": [{"family": "Müller", "given": ["Jörg"]}], "gender": "male",
    "identifier": [{"system": "urn:oid:1.2.3", "value": "M1", "type": {"coding": [{"code": "MR"}]}}],
    "birthDate": "1970-05-06",
}  # fmt: skip
DOCTOR = {
    "resourceType": "Practitioner",
    "identifier": [{"value": "NPI9"}],
    "name": [{"family": "Who", "given": ["A"]}],
}
ANSWERS = [
    {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
     "valueQuantity": {"value": 37.2, "unit": "Cel", "system": "http://unitsofmeasure.org", "code": "Cel"}},
    {"resourceType": "Observation", "code": {"text": "Fasting?"}, "valueBoolean": True},
]  # fmt: skip
PLACER = {"system": PLACER_SYSTEM, "value": "sr-1"}
SPECIMEN = {
    "resourceType": "Specimen", "identifier": [{"value": "S-9"}],
    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0487", "code": "SER",
                         "display": "Serum"}]},
    "collection": {"collectedDateTime": "2024-05-06T06:30:00+02:00"},
}  # fmt: skip


def _message(
    structure: str = "OML_O21", control: str = "NW", version: str = "2.5.1", request: dict[str, Any] = REQUEST
) -> str:
    lab = Lab("Organization/o", "Endpoint/e", "lab", 2575, False, structure=structure, version=version)
    order = OrderData(request, PATIENT, DOCTOR, ANSWERS, [SPECIMEN])
    return order_message(order, lab, control, "CTRL-1", PLACER, datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))


@pytest.mark.parametrize("structure", ["OML_O21", "ORM_O01"])
@pytest.mark.parametrize("control", ["NW", "XO", "HD", "RL", "CA"])
def test_every_order_control_is_valid_v251(control: str, structure: str) -> None:
    request = {**REQUEST, "occurrencePeriod": {"start": "2024-06-01T08:00:00Z", "end": "2024-06-01T10:00:00Z"}}
    text = _message(structure, control, request=request)
    if structure == "OML_O21":  # hl7apy reads ORM_O01's OBR/RQD/RQ1/RXO/ODS/ODT choice as a sequence (RQD required)
        message = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        message.validate()
        assert message.msh.msh_10.value == "CTRL-1"
    assert fields(text, "ORC")[1] == control
    assert fields(text, "ORC")[5:7] == ["", ""]  # ORC-5, the order status, is the filler's to give
    if structure == "OML_O21":
        assert fields(text, "TQ1")[7:10] == ["20240601080000+0000", "20240601100000+0000", "A^ASAP^HL70485"]
        assert fields(text, "SPM")[1:5] == ["1", "S-9", "", "SER^Serum^HL70487"]
        assert fields(text, "SPM")[17] == "20240506063000+0200" and len(fields(text, "OBR")) == 17
    else:
        assert fields(text, "ORC")[7] == "^^^20240601080000+0000^20240601100000+0000^A"
        assert fields(text, "OBR")[15] == "SER&Serum&HL70487" and "SPM" not in text


def test_the_inbound_mapping_reads_the_order_back() -> None:
    for structure, version in (("OML_O21", "2.5.1"), ("ORM_O01", "2.5.1"), ("ORM_O01", "2.3")):
        text = _message(structure, version=version)
        result = map_message(text)
        assert result.bundle is not None, result.errors
        resources = [e["resource"] for e in result.bundle["entry"]]
        [request] = [r for r in resources if r["resourceType"] == "ServiceRequest"]
        [patient] = [r for r in resources if r["resourceType"] == "Patient"]
        assert {k: request["identifier"][0][k] for k in ("system", "value")} == PLACER
        assert request["code"]["coding"][0]["code"] == "2345-7" and request["status"] == "active"
        assert len(request["supportingInfo"]) == 2 and request["note"][0]["text"] == "fasting ^ 12 h"
        assert patient["name"][0]["family"] == "Müller" and patient["identifier"][0]["system"] == "urn:oid:1.2.3"
        assert fields(text, "ORC")[12] == "NPI9^Who^A"
    assert fields(_message("ORM_O01"), "ORC")[7] == "^^^^^A" and "TQ1" not in _message("ORM_O01")
    assert fields(_message(), "TQ1")[9] == "A^ASAP^HL70485"


def test_identifier_systems_survive_the_round_trip() -> None:
    delims = Delimiters()
    for system in (PLACER_SYSTEM, "urn:oid:2.16.840.1.113883.19", "https://lab.example.org/orders",
                   "urn:hl7v2:assigning-authority:CITY%20LAB"):  # fmt: skip
        text = ei({"system": system, "value": "A-1"})
        value = Value(text.split("^"), delims, "^")
        read = read_ei(value) or {}
        assert read.get("system", PLACER_SYSTEM) == system and read["value"] == "A-1", text
        assert hd_system(Value(text.split("^")[1:4], delims, "^")) in (None, system)


def test_an_order_without_code_or_patient_is_refused() -> None:
    lab = Lab("Organization/o", "Endpoint/e", "lab", 2575, False)
    with pytest.raises(OrderError, match="ServiceRequest.code"):
        order_message(OrderData({**REQUEST, "code": {}}, PATIENT), lab, "NW", "C", PLACER, datetime.now(UTC))


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ({"address": "tcp://lab:1"}, "mllp://host:port"),
        ({"address": "mllp://lab:99999"}, "no valid port"),
        ({"header": ["MSH-9: ORU"]}, "MSH-3, 4, 5, 6, 11 or 12"),
        ({"header": ["MSH-12: 3.0"]}, "is not one of"),
        ({"header": ["MSH-12: 2.3"]}, "OML^O21 needs HL7 version 2.4"),
        ({"payloadType": [{"coding": [{"system": STRUCTURES, "code": "ORU_R01"}]}]}, "not OML_O21 or ORM_O01"),
    ],
)  # fmt: skip
def test_lab_configuration_errors_name_what_to_fix(endpoint: dict[str, Any], problem: str) -> None:
    body = {"resourceType": "Endpoint", "status": "active", "connectionType": CONNECTION,
            "address": "mllps://lab.example.org", **endpoint}  # fmt: skip
    with pytest.raises(LabConfigError, match=problem.replace("^", "\\^")):
        lab_of("Organization/o", "Endpoint/e", body)
    good = lab_of("Organization/o", "Endpoint/e", {**body, "address": "mllps://lab.example.org", "header": [],
                                                    "payloadType": []})  # fmt: skip
    assert (good.host, good.port, good.tls, good.structure, good.version) == ("lab.example.org", 2575, True,
                                                                             "OML_O21", "2.5.1")  # fmt: skip


def test_a_result_for_a_sent_order_links_to_its_service_request(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA")
        port = await lab.start()
        async with world(database) as w:
            order = await w.order(await w.lab(port))
            await w.until(order, lambda e: statuses(e) == ["acknowledged"])
            sent = lab.received[0]
            placer, pid = fields(sent, "OBR")[2], "|".join(fields(sent, "PID"))
            oru = "\r".join([
                "MSH|^~\\&|LAB|LABFAC|FHIR|CLINIC|20240506100000||ORU^R01^ORU_R01|R-1|P|2.5.1", pid,
                f"OBR|1|{placer}|F-77|2345-7^Glucose^LN|||20240506090000|||||||||||||||20240506095900|||F",
                "OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^mg/dL^UCUM|70-99||||F",
            ]) + "\r"  # fmt: skip
            result = map_message(oru)
            assert result.bundle is not None, result.errors
            _kind, written = await process_bundle(w.store, TEST_POLICY, result.bundle, None)
            [report] = [e.record for e in written if e.record and e.record.resource_type == "DiagnosticReport"]
            body = (await read_resource(w.store, TEST_POLICY, "DiagnosticReport", report.id)).resource()
            assert body["basedOn"] == [{"reference": order}]
        await lab.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("sent", "nm"),
    [("1.0E+2", "100"), ("1.50", "1.50"), ("2.5e-7", "0.00000025"), ("-3E3", "-3000"), ("37.2", "37.2")],
)
def test_a_quantity_answer_is_a_fixed_point_nm(sent: str, nm: str) -> None:
    """FHIR decimals may have an exponent; v2 NM may not: the value is written fixed-point, digits kept."""
    answer = loads(
        b'{"resourceType": "Observation", "status": "final", "code": {"text": "Volume"},'
        b' "valueQuantity": {"value": ' + sent.encode() + b', "unit": "mL", "system": "http://unitsofmeasure.org",'
        b' "code": "mL"}}'
    )
    lab = Lab("Organization/o", "Endpoint/e", "lab", 2575, False, structure="OML_O21", version="2.5.1")
    order = OrderData(REQUEST, PATIENT, DOCTOR, [answer], [SPECIMEN])
    message = order_message(order, lab, "NW", "CTRL-1", PLACER, datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC))
    obx = fields(message, "OBX")
    assert obx[2:3] == ["NM"] and obx[5] == nm
    assert obx[6].startswith("mL^mL^")
