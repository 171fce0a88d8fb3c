"""An ORU^R01 over MLLP, through the real mapper and engine: NM results are stored with exactly their digits,
never through a binary float."""

from __future__ import annotations

import asyncio

from adapters.hl7v2.mapping import map_message
from fhir_server.auth.policy import AccessPolicy
from fhir_server.engine import read_resource
from fhir_server.storage import EmbeddedDatabase

from . import Client, listening, segment

ORU = (
    "MSH|^~\\&|LAB|FAC|||20240105101500+0100||ORU^R01|DEC1|P|2.5.1\r"
    "PID|||P9^^^FAC^MR||Poe^Al||19700202|M\r"
    "OBR|1|PL1|FI1|24317-0^CBC^LN|||20240105090000+0100|||||||||||||||20240105100000+0100|||F\r"
    "OBX|1|NM|2345-7^Glucose^LN||0098.50|mg/dL^^UCUM|70-99||||F\r"
    "OBX|2|NM|718-7^Hemoglobin^LN||0.1000000000000000055|g/dL^^UCUM|||||F\r"
)


def test_nm_values_are_stored_exactly(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database, mapper=map_message) as running:
            client = await Client.connect(running.port)
            try:
                ack = await client.send(ORU)
            finally:
                await client.close()
            assert segment(ack, "MSA")[1] == "AA", ack
            (stored,) = await running.messages.list()
            bodies = []
            for reference in stored.resources:
                kind, ident = reference.split("/_history")[0].split("/")
                if kind == "Observation":
                    record = await read_resource(running.store, AccessPolicy.system("test"), kind, ident)
                    assert record.body is not None
                    bodies.append(record.body)
            assert any(b'"value":98.50,' in body for body in bodies), bodies
            assert any(b'"value":0.1000000000000000055,' in body for body in bodies), bodies

    asyncio.run(scenario())
