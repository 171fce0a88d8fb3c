"""Duplicates (same MSH-3 + MSH-10) get the original ACK and are not processed twice; failed messages can be rerun."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from adapters.hl7v2.pipeline import Pipeline
from fhir_server.engine.identity import now
from fhir_server.storage import EmbeddedDatabase

from . import Client, MappingResult, listening, msg, segment, small_mapper


def test_duplicate_gets_the_original_ack(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database) as running:
            client = await Client.connect(running.port)
            first = await client.send(msg("D1"))
            again = await client.send(msg("D1"))
            assert again == first  # the very same ACK, its MSH-10 included
            other_app = await client.send(msg("D1", app="OTHERLAB"))  # another sender's D1 is a new message
            assert segment(other_app, "MSA")[1] == "AA" and other_app != first
            clients = [await Client.connect(running.port) for _ in range(5)]
            acks = await asyncio.gather(*(c.send(msg("D2")) for c in clients))  # the same message, at once
            assert len(set(acks)) == 1 and segment(acks[0], "MSA")[1:3] == ["AA", "D2"]
            stored = await running.messages.list()
            assert sorted(m.control_id for m in stored) == ["D1", "D1", "D2"]
            assert all(m.status == "processed" and len(m.resources) == 2 for m in stored)  # Patient, Provenance
            patients = await running.store.client[running.store.database_name]["resources"].count_documents(
                {"type": "Patient"}
            )
            assert patients == 3  # D1, OTHERLAB's D1, D2: nothing twice
            rejected = msg("D3", kind="ORM^O01")
            assert segment(await client.send(rejected), "MSA")[1] == "AR"
            assert segment(await client.send(rejected), "MSA")[1] == "AR"  # rejected copies are not duplicates...
            assert len(await running.messages.list(status="error")) == 2  # ...and each is kept
            for c in (client, *clients):
                await c.close()

    asyncio.run(scenario())


def test_failed_message_is_listed_and_reprocessed(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database) as running:
            client = await Client.connect(running.port)
            bad = msg("R1", pid="PID|1||MRN9||Doe||19800101|X!")  # the engine refuses the gender
            ack = await client.send(bad)
            assert segment(ack, "MSA")[1] == "AE" and segment(ack, "ERR")[3].startswith("207^")
            failed = await running.messages.list(status="error")
            assert len(failed) == 1 and failed[0].error and failed[0].resources == []
            assert await running.messages.list(status="error", since=now() + timedelta(minutes=1)) == []
            assert len(await running.messages.list(until=now() + timedelta(seconds=1))) == 1
            assert await client.send(bad) == ack  # a resend is a duplicate: nothing written

            def fixed(text: str, options: Any = None) -> MappingResult:
                return small_mapper(text.replace("|X!", "|F"))

            pipeline = Pipeline(running.database, fixed)
            record = await pipeline.reprocess(failed[0].id)
            assert record.status == "processed" and len(record.resources) == 2 and record.attempts == 2
            assert len(record.acks) == 2 and segment(record.acks[-1], "MSA")[1] == "AA"
            assert (await running.messages.counts()) == {"received": 0, "processed": 1, "error": 0}
            await client.close()

    asyncio.run(scenario())
