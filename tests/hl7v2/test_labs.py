"""What labs trip over, with the real mapper on real MLLP sockets (and python-hl7's `mllp_send` where a lab uses
it): unstorable values, processing ids, times without an offset, assigning authorities, byte order marks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from adapters.hl7v2.mapping import map_message
from adapters.hl7v2.senders import Reading, SenderRules, Senders
from fhir_server.auth.policy import AccessPolicy
from fhir_server.engine import read_resource
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore

from . import Client, Running, listening, mllp_send_command, segment


def oru(
    control: str, obx: str, *, processing: str = "P", pid3: str = "MRN-7^^^LAB^MR", msh7: str = "20240105120000"
) -> str:
    return "\r".join([
        f"MSH|^~\\&|LABAPP|LABFAC|FHIR|CLINIC|{msh7}||ORU^R01^ORU_R01|{control}|{processing}|2.5.1",
        f"PID|1||{pid3}||Doe^Jane||19800101|F",
        f"OBR|1|ORD-{control}|FIL-{control}|2345-7^Glucose^LN|||20240105110000|||||||||||||||20240105115000|||F",
        obx,
    ]) + "\r"  # fmt: skip


async def _count(running: Running, resource_type: str) -> int:
    resources = running.store.client[running.store.database_name]["resources"]
    return int(await resources.count_documents({"type": resource_type}))


async def _stored(store: MongoResourceStore, reference: str) -> dict[str, Any]:
    resource_type, resource_id = reference.split("/")[:2]
    found = await read_resource(store, AccessPolicy.system("test"), resource_type, resource_id)
    assert found.body is not None
    result: dict[str, Any] = orjson.loads(found.body)
    return result


async def _observation(running: Running, control: str) -> dict[str, Any]:
    (record,) = [r for r in await running.messages.list() if r.control_id == control]
    (reference,) = [r for r in record.resources if r.startswith("Observation/")]
    return await _stored(running.store, reference)


@pytest.mark.parametrize(
    ("obx", "location"),
    [
        ("OBX|1|NM|2345-7^Glucose^LN||one hundred|mg/dL|||||F", "OBX^1^5"),
        ("OBX|1|NM|2345-7^Glucose^LN||100|mg/dL|||||F|||2024-01-05 10:00", "OBX^1^14"),
        ("OBX|1|NM|2345-7^Glucose^LN||100|mg/dL|||||F|||20240231100000", "OBX^1^14"),
    ],
)
def test_a_value_or_time_that_cannot_be_stored_refuses_the_message(
    database: EmbeddedDatabase, obx: str, location: str
) -> None:
    async def scenario() -> None:
        async with listening(database, mapper=map_message) as running:
            client = await Client.connect(running.port)
            ack = await client.send(oru("BAD1", obx))
            assert segment(ack, "MSA")[1:3] == ["AE", "BAD1"]
            err = segment(ack, "ERR")
            assert err[2] == location and err[3] == "102^Data type error^HL70357" and err[4] == "E"
            assert await _count(running, "Patient") == 0 and await _count(running, "Observation") == 0
            (record,) = await running.messages.list()
            assert record.status == "error" and record.resources == []
            await client.close()

    asyncio.run(scenario())


def test_a_sender_may_store_results_without_unstorable_values(database: EmbeddedDatabase) -> None:
    lenient = Reading(senders=Senders({"LABFAC": SenderRules(accept_invalid=True)}))

    async def scenario() -> None:
        async with listening(database, mapper=map_message, reading=lenient) as running:
            client = await Client.connect(running.port)
            ack = await client.send(oru("W1", "OBX|1|NM|2345-7^Glucose^LN||one hundred|mg/dL|||||F"))
            assert segment(ack, "MSA")[1] == "AA"
            err = segment(ack, "ERR")
            assert err[2] == "OBX^1^5" and err[3].startswith("102^") and err[4] == "W"
            observation = await _observation(running, "W1")
            assert not any(key.startswith("value") for key in observation)
            await client.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("processing", ["T", "D", "", "X"])
def test_only_configured_processing_ids_are_accepted(database: EmbeddedDatabase, processing: str) -> None:
    obx = "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F"

    async def scenario() -> None:
        async with listening(database, mapper=map_message) as running:
            client = await Client.connect(running.port)
            ack = await client.send(oru("T1", obx, processing=processing))
            assert segment(ack, "MSA")[1:3] == ["AR", "T1"]
            err = segment(ack, "ERR")
            assert err[2] == "MSH^1^11" and err[3] == "202^Unsupported processing id^HL70357"
            assert await _count(running, "Patient") == 0 and await _count(running, "Observation") == 0
            assert segment(await client.send(oru("P1", obx)), "MSA")[1:3] == ["AA", "P1"]
            await client.close()
        if processing not in ("T", "D"):
            return
        allowed = Reading(processing_ids=frozenset({"P", processing}))
        async with listening(database, mapper=map_message, reading=allowed) as running:
            client = await Client.connect(running.port)
            assert segment(await client.send(oru("T2", obx, processing=processing)), "MSA")[1] == "AA"
            await client.close()

    asyncio.run(scenario())


@pytest.fixture()
def berlin_server() -> Iterator[None]:
    """This process (the server of `listening`) in the Europe/Berlin zone."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Berlin"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_times_without_offset_keep_their_time_in_the_senders_zone(database: EmbeddedDatabase) -> None:
    chicago = Reading(senders=Senders({"LABAPP": SenderRules(timezone=ZoneInfo("America/Chicago"))}))

    async def scenario() -> None:
        async with listening(database, mapper=map_message, reading=chicago) as running:
            client = await Client.connect(running.port)
            for control, stamp in (("W", "20240105081500"), ("S", "20240705081500")):
                obx = f"OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F|||{stamp}"
                assert segment(await client.send(oru(control, obx, msh7="20240105120000+0100")), "MSA")[1] == "AA"
            assert (await _observation(running, "W"))["effectiveDateTime"] == "2024-01-05T08:15:00-06:00"
            assert (await _observation(running, "S"))["effectiveDateTime"] == "2024-07-05T08:15:00-05:00"  # DST
            await client.close()

    asyncio.run(scenario())


def test_times_without_offset_default_to_the_servers_zone(database: EmbeddedDatabase, berlin_server: None) -> None:
    async def scenario() -> None:
        async with listening(database, mapper=map_message) as running:
            client = await Client.connect(running.port)
            for control, stamp in (("W", "202401050815"), ("S", "202407050815")):
                obx = f"OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F|||{stamp}"
                assert segment(await client.send(oru(control, obx)), "MSA")[1] == "AA"
            assert (await _observation(running, "W"))["effectiveDateTime"] == "2024-01-05T08:15:00+01:00"
            assert (await _observation(running, "S"))["effectiveDateTime"] == "2024-07-05T08:15:00+02:00"
            await client.close()

    asyncio.run(scenario())


def test_one_authority_as_namespace_and_as_oid_is_one_patient(database: EmbeddedDatabase) -> None:
    oid = "2.16.840.1.113883.19.5"
    table = Reading(authorities={"HOSP": f"urn:oid:{oid}", oid: f"urn:oid:{oid}"})
    obx = "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F"

    async def scenario() -> None:
        async with listening(database, mapper=map_message, reading=table) as running:
            client = await Client.connect(running.port)
            assert segment(await client.send(oru("A1", obx, pid3="4711^^^HOSP^MR")), "MSA")[1] == "AA"
            assert segment(await client.send(oru("A2", obx, pid3=f"4711^^^&{oid}&ISO^MR")), "MSA")[1] == "AA"
            assert segment(await client.send(oru("A3", obx, pid3=f"4711^^^HOSP&{oid}&ISO^MR")), "MSA")[1] == "AA"
            assert await _count(running, "Patient") == 1
            records = await running.messages.list()
            patients = {r.resources[0].split("/_history")[0] for r in records}
            assert len(patients) == 1
            patient = await _stored(running.store, patients.pop())
            assert patient["identifier"][0] == {
                "value": "4711",
                "system": f"urn:oid:{oid}",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            }
            await client.close()
        async with listening(database, mapper=map_message) as running:  # without the table: two systems
            client = await Client.connect(running.port)
            await client.send(oru("B1", obx, pid3="4711^^^HOSP^MR"))
            await client.send(oru("B2", obx, pid3=f"4711^^^&{oid}&ISO^MR"))
            assert await _count(running, "Patient") == 2
            await client.close()

    asyncio.run(scenario())


def test_bom_files_with_mllp_send_loose(database: EmbeddedDatabase, tmp_path: Path) -> None:
    obx = "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F"
    bom = "\ufeff"
    path = tmp_path / "two.hl7"  # two BOM-started files joined, LF segment ends
    path.write_text(bom + oru("M1", obx).replace("\r", "\n") + bom + oru("M2", obx).replace("\r", "\n"), "utf-8")

    async def scenario() -> None:
        async with listening(database, mapper=map_message) as running:
            process = await asyncio.create_subprocess_exec(
                mllp_send_command(), "--loose", "-p", str(running.port), "-f", str(path), "127.0.0.1",
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, err
            text = out.decode("utf-8")
            assert bom not in text and "MSA|AR" not in text
            acks = [a for a in text.split("\n") if a.strip()]
            assert [segment(a, "MSA")[1:3] for a in acks if segment(a, "MSA")[2]] == [["AA", "M1"], ["AA", "M2"]]
            assert [r.status for r in await running.messages.list()] == ["processed", "processed"]
            for record in await running.messages.list():
                assert bom not in record.raw and record.raw.split("\r")[-1].startswith("OBX|")
            client = await Client.connect(running.port)  # a BOM right after the start block, and before each message
            ack = await client.send(bom + oru("M3", obx) + bom + oru("M4", obx))
            assert bom not in ack and [segment(a, "MSA")[1] for a in ack.split("MSH|")[1:]] == ["AA", "AA"]
            await client.close()

    asyncio.run(scenario())
