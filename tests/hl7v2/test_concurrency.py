"""Results for one new patient arriving at once on several connections create one Patient.

The engine's transaction guards each conditional create with a lock in the database, so this
holds across listeners (processes) too: the second test runs two pipelines on one database.
"""

from __future__ import annotations

import asyncio
import uuid

from adapters.hl7v2.mapping import map_message
from fhir_server.storage import EmbeddedDatabase

from . import Client, listening, segment


def oru(control: str) -> str:
    return "\r".join([
        f"MSH|^~\\&|LAB|LABFAC|FHIR|CLINIC|20240101120000||ORU^R01^ORU_R01|{control}|P|2.5.1",
        "PID|1||MRN-NEW^^^LAB^MR||Doe^Jane||19800101|F",
        f"OBR|1|ORD-{control}|FIL-{control}|2345-7^Glucose^LN|||20240101110000|||||||||||||||20240101115000|||F",
        "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F",
    ]) + "\r"  # fmt: skip


def test_simultaneous_results_for_a_new_patient(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database, mapper=map_message) as running:
            clients = [await Client.connect(running.port) for _ in range(4)]
            acks = await asyncio.gather(*(c.send(oru(f"S{i}")) for i, c in enumerate(clients)))
            assert [segment(a, "MSA")[1] for a in acks] == ["AA"] * 4, acks
            resources = running.store.client[running.store.database_name]["resources"]
            assert await resources.count_documents({"type": "Patient"}) == 1
            for client in clients:
                await client.close()

    asyncio.run(scenario())


def test_simultaneous_results_on_two_listeners_of_one_database(database: EmbeddedDatabase) -> None:
    name = f"hl7_{uuid.uuid4().hex[:10]}"

    async def scenario() -> None:
        async with (
            listening(database, mapper=map_message, name=name) as first,
            listening(database, mapper=map_message, name=name) as second,
        ):
            clients = [await Client.connect((first, second)[i % 2].port) for i in range(6)]
            acks = await asyncio.gather(*(c.send(oru(f"T{i}")) for i, c in enumerate(clients)))
            assert [segment(a, "MSA")[1] for a in acks] == ["AA"] * 6, acks
            resources = first.store.client[name]["resources"]
            assert await resources.count_documents({"type": "Patient"}) == 1
            for client in clients:
                await client.close()

    asyncio.run(scenario())
