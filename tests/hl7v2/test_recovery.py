"""Messages accepted but left `received` by a process that died are finished: by the recovery duty of a
server that starts, or for their resend, which is then answered AA instead of "still being processed".

The crash is simulated the way it leaves the database: each message is stored through the message
store exactly as the listener stores it (leased to the worker id of a process that has exited, or,
as an older server stored it, without a lease; the commit ack recorded in enhanced mode), and
nothing more happens to it.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from adapters.hl7v2.access import HL7_POLICY
from adapters.hl7v2.ack import build_ack
from adapters.hl7v2.header import parse_header
from adapters.hl7v2.pipeline import Pipeline
from adapters.hl7v2.provenance import provenance_entry
from fhir_server.engine.bundle import process_bundle
from fhir_server.engine.identity import now
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.embedded import free_loopback_port
from fhir_server.storage.hl7_messages import MessageStore
from fhir_server.storage.leases import LEASE, new_worker
from tests.conftest import FHIR_JSON, ServerProcess

from . import Client, listening, segment, small_mapper

ENHANCED = "|||AL|AL"
"""MSH-15/16: a commit ack on receipt, then an application ack."""


def oru(control: str, mrn: str, extra_msh: str = "") -> str:
    return "\r".join([
        f"MSH|^~\\&|LAB|LABFAC|FHIR|CLINIC|20240101120000||ORU^R01^ORU_R01|{control}|P|2.5.1{extra_msh}",
        f"PID|1||{mrn}^^^LAB^MR||Doe^Jane||19800101|F",
        f"OBR|1|ORD-{control}|FIL-{control}|2345-7^Glucose^LN|||20240101110000|||||||||||||||20240101115000|||F",
        "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F",
    ]) + "\r"  # fmt: skip


@functools.cache
def dead_worker() -> str:
    """The worker id of a listener process that has exited."""
    code = "from fhir_server.storage.leases import new_worker; print(new_worker())"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


async def abandoned(messages: MessageStore, raw: str, worker: str | None) -> str:
    """Store `raw` as the listener does on receipt (with its commit ack in enhanced mode), then nothing."""
    header, problems = parse_header(raw)
    assert header is not None and not problems
    message_id, original = await messages.add(raw, header, "", accepted=True, worker=worker)
    assert original is None
    if header.enhanced:
        await messages.add_ack(message_id, build_ack(header, "CA", [], now(), application=False))
    return message_id


def _count(store: MongoResourceStore, kind: str) -> Any:
    return store.client[store.database_name]["resources"].count_documents({"type": kind})


def test_a_starting_server_finishes_what_a_dead_one_accepted(database: EmbeddedDatabase, tmp_path: Path) -> None:
    name, mllp_port = f"hl7recover_{uuid.uuid4().hex[:8]}", free_loopback_port()

    async def crash() -> dict[str, str]:
        store = MongoResourceStore.connect(database.uri, name)
        try:
            messages = MessageStore(store)
            await messages.ensure_indexes()
            return {
                "enhanced": await abandoned(messages, oru("K1", "MRN-K1", ENHANCED), dead_worker()),
                "unleased": await abandoned(messages, oru("K2", "MRN-K2"), None),  # stored by an older server
            }
        finally:
            await store.close()

    ids = asyncio.run(crash())
    server = ServerProcess(["--mongodb-uri", database.uri, "--database", name, "--mllp-port", str(mllp_port)],
                           tmp_path / "server.log")  # fmt: skip
    try:
        with httpx.Client(base_url=server.base, headers=FHIR_JSON, timeout=30) as http:
            deadline = time.monotonic() + 120  # a bound on waiting, not a speed requirement
            while http.get("/admin/hl7/messages").json()["counts"]["processed"] < 2:
                assert time.monotonic() < deadline, http.get("/admin/hl7/messages").json()
                time.sleep(0.5)
            for key, message_id in ids.items():
                entry = http.get(f"/admin/hl7/messages/{message_id}").json()
                assert entry["status"] == "processed" and entry["error"] is None, key
                observation = next(r for r in entry["resources"] if r.startswith("Observation/"))
                assert http.get(f"/fhir/{observation.split('/_history')[0]}").json()["valueQuantity"]["value"] == 5.4
                # the application ack is recorded, after the commit ack the sender had (enhanced mode)
                codes = [segment(ack, "MSA")[1] for ack in entry["acks"]]
                assert codes == (["CA", "AA"] if key == "enhanced" else ["AA"]), key

            async def resend() -> list[str]:
                client = await Client.connect(mllp_port)
                try:  # the sender never got its application ack: it gets the recorded one, nothing is redone
                    return [await client.send(oru("K1", "MRN-K1", ENHANCED)), await client.receive()]
                finally:
                    await client.close()

            commit, application = asyncio.run(resend())
            assert segment(commit, "MSA")[1:3] == ["CA", "K1"] and segment(application, "MSA")[1:3] == ["AA", "K1"]
            observations = http.get("/fhir/Observation", params={"_summary": "count"}).json()["total"]
            assert observations == 2
    finally:
        assert server.stop() == 0


def test_the_standalone_receiver_recovers_too(database: EmbeddedDatabase, tmp_path: Path) -> None:
    name, port = f"hl7recover_{uuid.uuid4().hex[:8]}", free_loopback_port()

    async def stored(action: Any) -> Any:
        store = MongoResourceStore.connect(database.uri, name)
        try:
            messages = MessageStore(store)
            await messages.ensure_indexes()
            return await action(messages)
        finally:
            await store.close()

    message_id = asyncio.run(stored(lambda messages: abandoned(messages, oru("M1", "MRN-M1"), dead_worker())))
    command = [sys.executable, "-m", "fhir_server", "mllp", "--port", str(port), "--mongodb-uri", database.uri,
               "--database", name]  # fmt: skip
    with (tmp_path / "mllp.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 120  # a bound on waiting, not a speed requirement
            while (record := asyncio.run(stored(lambda messages: messages.get(message_id)))).status == "received":
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "mllp.log").read_text()
                time.sleep(0.5)
            assert record.status == "processed" and [segment(a, "MSA")[1] for a in record.acks] == ["AA"]
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0


def test_a_resend_of_a_message_whose_processor_died_is_processed(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database) as running:  # a listener only: no recovery duty runs here
            messages, store = running.messages, running.store
            died = await abandoned(messages, oru("R1", "MRN-R1"), dead_worker())
            died_enhanced = await abandoned(messages, oru("R2", "MRN-R2", ENHANCED), dead_worker())
            alive = await abandoned(messages, oru("R3", "MRN-R3"), new_worker())  # leased to a live process
            client = await Client.connect(running.port)

            ack = await client.send(oru("R1", "MRN-R1"))
            assert segment(ack, "MSA")[1:3] == ["AA", "R1"], ack
            record = await messages.get(died)
            assert record is not None and record.status == "processed" and record.acks == [ack]
            assert any(r.startswith("Observation/") for r in record.resources)

            commit = await client.send(oru("R2", "MRN-R2", ENHANCED))
            application = await client.receive()
            assert segment(commit, "MSA")[1] == "CA" and segment(application, "MSA")[1:3] == ["AA", "R2"]
            record = await messages.get(died_enhanced)
            assert record is not None and record.status == "processed" and record.acks == [commit, application]

            busy = await client.send(oru("R3", "MRN-R3"))  # its processor lives: the answer of today
            assert segment(busy, "MSA")[1] == "AR" and segment(busy, "ERR")[3].startswith("207^")
            record = await messages.get(alive)
            assert record is not None and record.status == "received" and record.acks == []

            assert await client.send(oru("R1", "MRN-R1")) == ack  # processed: a duplicate, as before
            assert await _count(store, "Observation") == 2
            await client.close()

    asyncio.run(scenario())


def test_a_message_whose_transaction_committed_before_the_crash_is_not_written_again(
    database: EmbeddedDatabase,
) -> None:
    async def scenario() -> None:
        async with listening(database) as running:
            raw = oru("W1", "MRN-W1")
            message_id = await abandoned(running.messages, raw, dead_worker())
            header, _problems = parse_header(raw)
            assert header is not None
            bundle = small_mapper(raw).bundle
            assert bundle is not None  # what the listener wrote before it died, before recording the outcome
            bundle["entry"].append(provenance_entry(bundle, message_id, header, now()))
            await process_bundle(running.store, HL7_POLICY, bundle, None)
            assert await _count(running.store, "Observation") == 1

            client = await Client.connect(running.port)
            ack = await client.send(raw)
            assert segment(ack, "MSA")[1:3] == ["AA", "W1"]
            record = await running.messages.get(message_id)
            assert record is not None and record.status == "processed", record
            assert {r.split("/")[0] for r in record.resources} == {"Patient", "Provenance"}, record.resources
            assert await _count(running.store, "Observation") == 1
            assert await _count(running.store, "Provenance") == 1
            await client.close()

    asyncio.run(scenario())


def test_a_message_that_took_down_three_processes_is_not_taken_over_again(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database) as running:
            raw = oru("P1", "MRN-P1")
            message_id = await abandoned(running.messages, raw, dead_worker())
            for _death in range(2):  # two processes took it over, and died with it as well
                record = await running.messages.get(message_id)
                assert record is not None and await running.messages.claim(record, dead_worker(), now())
            client = await Client.connect(running.port)
            ack = await client.send(raw)
            assert segment(ack, "MSA")[1:3] == ["AE", "P1"] and "interrupted 3 times" in segment(ack, "ERR")[8]
            record = await running.messages.get(message_id)
            assert record is not None and record.status == "error" and record.resources == []
            assert await _count(running.store, "Observation") == 0
            assert await client.send(raw) == ack  # settled: a duplicate from now on
            await client.close()
            record = await Pipeline(running.database, small_mapper).reprocess(message_id)  # what the operator does
            assert record.status == "processed" and await _count(running.store, "Observation") == 1

    asyncio.run(scenario())


def test_leases_are_taken_once_and_again_after_they_run_out(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        store = MongoResourceStore.connect(database.uri, f"hl7_{uuid.uuid4().hex[:10]}")
        try:
            messages = MessageStore(store)
            await messages.ensure_indexes()
            holder = new_worker()
            held = await abandoned(messages, oru("L1", "MRN-L1"), holder)
            free = await abandoned(messages, oru("L2", "MRN-L2"), None)
            at = now()
            claims = await asyncio.gather(*(messages.claim_next(new_worker(), at) for _ in range(4)))
            assert [c.id for c in claims if c is not None] == [free]  # one claimer; the held one stays held
            assert await messages.claim_next(new_worker(), at) is None
            assert await messages.renew(held, "someone-else") is False
            assert await messages.renew(held, holder) is True
            later = now() + LEASE + LEASE / 2  # neither the holder nor the first claimer renewed
            taken = [await messages.claim_next(worker, later) for worker in ("worker-b", "worker-c", "worker-d")]
            assert taken[2] is None and {t.id for t in taken if t} == {held, free}
            assert {t.worker for t in taken if t} == {"worker-b", "worker-c"}
            assert await messages.renew(held, holder) is False  # the lease is no longer the holder's
        finally:
            await store.client.drop_database(store.database_name)
            await store.close()

    asyncio.run(scenario())
