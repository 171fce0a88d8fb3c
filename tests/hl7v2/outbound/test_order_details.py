"""What a LIS needs in an order, sent over a real MLLP socket to a lab receiver: short unique placer numbers,
the server's MSH-4, DG1 diagnoses, IN1 insurance, TQ1-9 priority (table 0485) and the NPI of the orderer."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from adapters.hl7v2.outbound.message import OrderSettings
from fhir_server.engine import create_resource, read_resource
from fhir_server.storage import EmbeddedDatabase
from tests.conftest import TEST_POLICY

from . import FAST, TestLab, fields, statuses, world

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def segments(message: str, name: str) -> list[list[str]]:
    return [line.split("|") for line in message.split("\r") if line.startswith(name + "|")]


@pytest.mark.parametrize(("priority", "code"), [("stat", "S^Stat"), ("asap", "A^ASAP"), ("routine", "R^Routine"),
                                                 ("urgent", "A^ASAP")])  # fmt: skip
def test_an_order_carries_what_a_lis_needs(database: EmbeddedDatabase, priority: str, code: str) -> None:
    settings = replace(FAST, orders=OrderSettings(sending_facility="SUNNY CLINIC", placer_length=12))

    async def scenario() -> None:
        lab = TestLab("AA")
        port = await lab.start()
        async with world(database, settings) as w:

            async def create(body: dict[str, object]) -> str:
                return (await create_resource(w.store, TEST_POLICY, str(body["resourceType"]), body)).record.reference

            organization = await w.lab(port)
            doctor = await create({
                "resourceType": "Practitioner", "name": [{"family": "House", "given": ["Greg"]}],
                "identifier": [{"system": "urn:oid:9.9", "value": "LOCAL-1"},
                               {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
            })  # fmt: skip
            acme = [{"system": "urn:oid:2.16.840.1.113883.3.7", "value": "ACME"}]
            payor = await create({"resourceType": "Organization", "name": "Acme Health", "identifier": acme})
            patient = await create({"resourceType": "Patient", "name": [{"family": "Doe"}]})
            coverage = await create({
                "resourceType": "Coverage", "status": "active", "beneficiary": {"reference": patient},
                "payor": [{"reference": payor}], "subscriberId": "POL-77",
                "relationship": {"coding": [{"code": "self"}]}, "period": {"start": "2024-01-01"},
                "class": [{"type": {"coding": [{"code": "group"}]}, "value": "GRP-1"},
                          {"type": {"coding": [{"code": "plan"}]}, "value": "GOLD", "name": "Gold plan"}],
            })  # fmt: skip
            condition = await create({
                "resourceType": "Condition", "subject": {"reference": patient},
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"},
                                    {"system": ICD10CM, "code": "E11.9", "display": "Type 2 diabetes"}]},
            })  # fmt: skip
            reasons = {"reasonCode": [{"coding": [{"system": ICD10CM, "code": "R73.09", "display": "High glucose"}]}],
                       "reasonReference": [{"reference": condition}], "insurance": [{"reference": coverage}],
                       "requester": {"reference": doctor}, "priority": priority,
                       "occurrenceDateTime": "2024-06-01T08:00:00Z"}  # fmt: skip
            first = await w.order(organization, **reasons)
            second = await w.order(organization, **reasons)
            for order in (first, second):
                await w.until(order, lambda e: statuses(e) == ["acknowledged"])
            placers = [fields(m, "ORC")[2] for m in lab.received]
            assert len(placers) == 2 and all(0 < len(p) <= 12 for p in placers) and placers[0] != placers[1]
            body = (await read_resource(w.store, TEST_POLICY, "ServiceRequest", first.split("/")[1])).resource()
            identifiers = [i["value"] for i in body["identifier"]]  # results naming the placer find the order
            (one,) = [m for m in lab.received if fields(m, "ORC")[2] in identifiers]  # orders may arrive either way
            message = parse_message(one, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
            message.validate()
            assert fields(one, "OBR")[2] == fields(one, "ORC")[2]
            assert fields(one, "MSH")[4] == "SUNNY CLINIC"
            assert fields(one, "TQ1")[9] == f"{code}^HL70485"
            npi = "1234567893^House^Greg^^^^^^NPI&2.16.840.1.113883.4.6&ISO^^^^NPI"
            assert fields(one, "ORC")[12] == npi and fields(one, "OBR")[16] == npi
            dg1 = segments(one, "DG1")
            assert [d[3] for d in dg1] == ["R73.09^High glucose^I10C", "E11.9^Type 2 diabetes^I10C"]
            assert [d[6] for d in dg1] == ["W", "W"]
            (in1,) = segments(one, "IN1")
            assert in1[2] == "GOLD^Gold plan" and in1[3] == "ACME^^^&2.16.840.1.113883.3.7&ISO"
            assert in1[4] == "Acme Health" and in1[8] == "GRP-1" and in1[12] == "20240101"
            assert in1[17] == "SEL^^HL70063" and in1[36] == "POL-77"
            order_of_segments = [line[:3] for line in one.split("\r") if line]
            assert order_of_segments[:5] == ["MSH", "PID", "IN1", "ORC", "TQ1"]
            assert order_of_segments.index("DG1") > order_of_segments.index("OBR")
        await lab.stop()

    asyncio.run(scenario())
