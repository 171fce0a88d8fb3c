"""Local lab codes → LOINC through ConceptMaps stored on the server; unmapped codes kept and reported."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from adapters.hl7v2.mapping import map_message
from fhir_server.engine import create_resource, read_resource, update_resource
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from tests.conftest import TEST_POLICY

from . import Client, listening, segment

LOINC = "http://loinc.org"
TTL = 1.0


def oru(control: str, *obx3: str) -> str:
    lines = [
        f"MSH|^~\\&|LAB|LABFAC|FHIR|CLINIC|20240101120000||ORU^R01^ORU_R01|{control}|P|2.5.1",
        "PID|1||MRN7^^^LAB^MR||Doe^Jane||19800101|F",
        f"OBR|1|ORD-{control}|FIL-{control}|CHEM^Chemistry^L|||20240101110000|||||||||||||||20240101115000|||F",
    ]
    lines += [f"OBX|{i}|NM|{code}||{i}.5|mmol/L|||||F" for i, code in enumerate(obx3, 1)]
    return "\r".join(lines) + "\r"


def concept_map(elements: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Local codes under CWE-3 `L`, and codes the sender LAB sends without CWE-3."""
    groups = [
        {"source": source, "target": LOINC, "element": [{"code": code, "target": [target]} for code, target in codes]}
        for source, codes in (
            ("urn:hl7v2:coding-system:L", [(c, t) for c, t in elements.items() if c != "HGB"]),
            ("urn:hl7v2:coding-system:LAB", [(c, t) for c, t in elements.items() if c == "HGB"]),
        )
    ]
    return {"resourceType": "ConceptMap", "status": "active", "group": groups}


async def codings(store: MongoResourceStore, references: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Observation code codings by OBX-3 local code, from the references a message log entry lists."""
    out = {}
    for reference in references:
        resource_type, resource_id = reference.split("/")[:2]
        if resource_type == "Observation":
            found = await read_resource(store, TEST_POLICY, resource_type, resource_id)
            assert found.body is not None
            coding = orjson.loads(found.body)["code"]["coding"]
            out[coding[0]["code"]] = coding
    return out


def test_local_codes_get_loinc_from_stored_concept_maps(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database, mapper=map_message, concept_map_ttl=TTL) as running:
            mapping = {
                "GLU": {"code": "2345-7", "display": "Glucose", "equivalence": "equivalent"},
                "HGB": {"code": "718-7", "equivalence": "equal"},
                "K": {"code": "2823-3", "equivalence": "narrower"},  # claims more than the local code says
            }
            stored = await create_resource(running.store, TEST_POLICY, "ConceptMap", concept_map(mapping))
            client = await Client.connect(running.port)
            ack = await client.send(oru("T1", "GLU^Glucose^L", "HGB^Hemoglobin", "K^Potassium^L", "2951-2^Sodium^LN"))
            assert segment(ack, "MSA")[1] == "AA"
            warnings = [line.split("|") for line in ack.split("\r") if line.startswith("ERR|")]
            assert {(w[2], w[3].split("^")[0], w[4]) for w in warnings} == {
                ("OBX^3^3", "103", "W"),  # K: only a narrower target
                ("OBR^1^4", "103", "W"),  # CHEM: no map at all
            }
            assert any("'K'" in w[8] for w in warnings)
            (record,) = await running.messages.list()
            assert {w["location"] for w in record.warnings} == {"OBX^3^3", "OBR^1^4"}
            found = await codings(running.store, record.resources)
            assert found["GLU"] == [
                {"system": "urn:hl7v2:coding-system:L", "code": "GLU", "display": "Glucose"},
                {"system": LOINC, "code": "2345-7", "display": "Glucose"},
            ]
            assert found["HGB"] == [{"code": "HGB", "display": "Hemoglobin"}, {"system": LOINC, "code": "718-7"}]
            assert found["K"] == [{"system": "urn:hl7v2:coding-system:L", "code": "K", "display": "Potassium"}]
            assert found["2951-2"] == [{"system": LOINC, "code": "2951-2", "display": "Sodium"}]

            mapping["K"] = {"code": "2823-3", "equivalence": "equivalent"}
            body = {**concept_map(mapping), "id": stored.record.id}
            await update_resource(running.store, TEST_POLICY, "ConceptMap", stored.record.id, body)
            await asyncio.sleep(TTL + 0.1)  # every process reads a changed ConceptMap within the TTL
            ack = await client.send(oru("T2", "K^Potassium^L"))
            assert segment(ack, "MSA")[1] == "AA" and "OBX^1^3" not in ack
            record = (await running.messages.list(control_id="T2"))[0]
            assert (await codings(running.store, record.resources))["K"][1] == {"system": LOINC, "code": "2823-3"}
            await client.close()

    asyncio.run(scenario())
