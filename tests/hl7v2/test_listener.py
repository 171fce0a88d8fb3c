"""The listener with real traffic: the python-hl7 `mllp_send` peer, sample files, encodings, batches, enhanced mode."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import orjson

from adapters.hl7v2.senders import Reading
from fhir_server.auth.policy import AccessPolicy
from fhir_server.engine import read_resource
from fhir_server.storage import EmbeddedDatabase

from . import FIXTURES, Client, listening, mllp_send_command, msg, segment

TEST_TOO = Reading(processing_ids=frozenset({"P", "T"}))
"""A listener that also takes test messages: most public samples are marked MSH-11 T."""


def test_mllp_send_peer_with_lf_files(database: EmbeddedDatabase) -> None:
    mllp_send = mllp_send_command()

    async def run(port: int, name: str) -> list[str]:
        process = await asyncio.create_subprocess_exec(
            mllp_send, "--loose", "-p", str(port), "-f", str(FIXTURES / name), "127.0.0.1",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, err
        return [ack for ack in out.decode().split("\n") if ack.strip()]

    async def scenario() -> None:
        async with listening(database, reading=TEST_TOO) as running:
            acks = await run(running.port, "fhirconv_ORU-R01-RMGEAD.hl7")  # LF segment ends
            assert len(acks) == 1 and segment(acks[0], "MSA")[1:3] == ["AA", "CNTRL-3456"]
            stored = await running.messages.list()
            assert stored[0].status == "processed" and len(stored[0].resources) == 3  # Patient, Observation, Provenance
            assert stored[0].raw.count("\r") >= 3 and "\n" not in stored[0].raw
            patient_ref = stored[0].resources[0].split("/_history")[0].split("/")
            patient = await read_resource(running.store, AccessPolicy.system("test"), patient_ref[0], patient_ref[1])
            assert patient.body is not None and orjson.loads(patient.body)["name"][0]["family"] == "EVERYWOMAN"
            acks = await run(running.port, "hapi_example_oml_o21.hl7")  # 13 messages, one connection
            codes = [segment(a, "MSA")[1] for a in acks]
            # the ORU^R01 asks for enhanced mode (MSH-16 ER): a commit ack only; OML/OUL/ORL are AR 200 here
            assert len(codes) == 13 and codes.count("CA") == 1 and codes.count("AR") == 12
            assert {segment(a, "ERR")[3].split("^")[0] for a in acks if "ERR|" in a} <= {"200", "101"}

    asyncio.run(scenario())


def test_bom_lf_and_latin1(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database, reading=TEST_TOO) as running:  # the sample is a test message (MSH-11 T)
            client = await Client.connect(running.port)
            raw = (FIXTURES / "fhirconv_LAB-ORU-1.hl7").read_bytes()
            assert raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
            assert segment(await client.send(raw), "MSA")[1:3] == ["AA", "182"]
            latin = msg("L1", extra_msh="||||||8859/1", pid="PID|1||MRN2||M\u00fcller^Hans||19700101|M")
            ack = await client.send(latin.encode("latin-1"), "latin-1")
            assert segment(ack, "MSA")[1] == "AA" and segment(ack, "MSH")[18] == "8859/1"
            record = (await running.messages.list(status="processed"))[0]
            assert "M\u00fcller" in record.raw and record.charset == "8859/1"
            resource_type, resource_id = record.resources[0].split("/")[:2]
            patient = await read_resource(running.store, AccessPolicy.system("test"), resource_type, resource_id)
            assert patient.body is not None and orjson.loads(patient.body)["name"][0]["family"] == "M\u00fcller"
            undeclared = msg("L2", pid="PID|1||MRN3||Sch\u00f6n||19700101|F").encode("latin-1")  # not UTF-8
            ack = await client.send(undeclared, "latin-1")
            assert segment(ack, "MSA")[1] == "AA" and segment(ack, "ERR")[4] == "W"
            await client.close()

    asyncio.run(scenario())


def test_batch_counts(database: EmbeddedDatabase) -> None:
    batch = (FIXTURES / "reportstream_batch_message.hl7").read_bytes()

    async def scenario() -> None:
        async with listening(database) as running:
            client = await Client.connect(running.port)
            reply = await client.send(batch)  # its messages say MSH-15/16 NE: a batch reply with no ACKs
            lines = reply.strip("\r").split("\r")
            assert lines[0].startswith("FHS|") and lines[1].startswith("BHS|") and lines[-2:] == ["BTS|0", "FTS|1"]
            assert len(await running.messages.list(status="processed")) == 2
            wrong = batch.replace(b"BTS|2", b"BTS|3").replace(b"|||NE|NE|", b"|||||")  # original mode
            wrong = wrong.replace(b"|371784|", b"|371785|").replace(b"|612092|", b"|612093|")
            reply = await client.send(wrong)
            assert [segment(a, "MSA")[1] for a in reply.split("MSH|")[1:]] == ["AA", "AA"]
            assert "BTS-1 says 3 messages but 2 arrived." in reply  # in BTS-2 and in each ERR-8
            errs = [line.split("|") for line in reply.split("\r") if line.startswith("ERR|")]
            assert len(errs) == 2 and all(e[2] == "BTS^1^1" and e[3].startswith("100^") and e[4] == "W" for e in errs)
            assert reply.strip("\r").split("\r")[-2].startswith("BTS|2|")
            assert len(await running.messages.list(status="processed")) == 4
            await client.close()

    asyncio.run(scenario())


def test_enhanced_mode(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database) as running:
            client = await Client.connect(running.port)
            commit = await client.send(msg("EN1", extra_msh="|||AL|AL"))
            assert segment(commit, "MSA")[1:3] == ["CA", "EN1"]
            application = await client.receive()
            assert segment(application, "MSA")[1:3] == ["AA", "EN1"]
            assert segment(application, "MSH")[15:17] == ["NE", "NE"]  # our application ack wants no ack back
            assert segment(await client.send(msg("EN2", extra_msh="|||AL|NE")), "MSA")[1] == "CA"
            assert segment(await client.send(msg("EN3", extra_msh="|||AL|ER")), "MSA")[1] == "CA"  # no app ack
            failing = msg("EN4", extra_msh="|||AL|ER", pid="PID|1||||Doe")
            assert segment(await client.send(failing), "MSA")[1] == "CA"
            assert segment(await client.receive(), "MSA")[1:3] == ["AE", "EN4"]
            rejected = await client.send(msg("EN5", kind="ORM^O01", extra_msh="|||AL|AL"))
            assert segment(rejected, "MSA")[1] == "CR" and segment(rejected, "ERR")[3].startswith("200^")
            silent = msg("EN6", extra_msh="|||NE|NE")
            assert segment(await client.send(silent + "\x1c\r\x0b" + msg("EN7")), "MSA")[2] == "EN7"  # EN6: no ack
            assert {m.control_id for m in await running.messages.list(status="processed")} >= {"EN1", "EN6"}
            await client.close()

    asyncio.run(scenario())


def test_tls(database: EmbeddedDatabase, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip

    async def scenario() -> None:
        async with listening(database, certfile=cert, keyfile=key) as running:
            context = ssl.create_default_context(cafile=str(cert))
            context.check_hostname = False
            reader, writer = await asyncio.open_connection("127.0.0.1", running.port, ssl=context)
            client = Client(reader, writer)
            assert segment(await client.send(msg("T1")), "MSA")[1:3] == ["AA", "T1"]
            await client.close()

    asyncio.run(scenario())
