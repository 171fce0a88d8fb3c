"""ACKs: header swap, MSA-2, and an ERR (location, table 0357 code, text) for every error the receiver reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from adapters.hl7v2.ack import build_ack, escape
from adapters.hl7v2.header import HL7Error, parse_header
from fhir_server.storage import EmbeddedDatabase

from . import Client, listening, msg, segment

CASES = [
    # (message, MSA-1, ERR-3 code, ERR-2 location)
    ("PID|1||MRN1\r", "AR", "100", "MSH^1"),
    (msg("E1", kind=""), "AR", "101", "MSH^1^9"),
    (msg(""), "AR", "101", "MSH^1^10"),
    (msg("E3").replace("|P|2.5.1", "|X|2.5.1"), "AR", "202", "MSH^1^11"),
    (msg("E4").replace("|P|2.5.1", "|P|3.0"), "AR", "203", "MSH^1^12"),
    (msg("E5", extra_msh="||||||KLINGON"), "AR", "103", "MSH^1^18"),
    (msg("E6", kind="ORM^O01"), "AR", "200", "MSH^1^9"),
    (msg("E7", kind="ADT^A99"), "AR", "201", "MSH^1^9"),
    (msg("E8", pid="PID|1||||Doe"), "AE", "101", "PID^1^3"),
    (msg("E9", pid="PID|1||MRN9||Doe||19800101|X!"), "AE", "207", "MSH^1"),  # the engine refuses the gender
]


def test_ack_header_is_swapped_and_parses() -> None:
    header, problems = parse_header(msg("ABC", extra_msh="|||AL|NE"))
    assert header is not None and not problems
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    ack = build_ack(header, "CA", [], moment, application=False)
    msh, msa = segment(ack, "MSH"), segment(ack, "MSA")
    assert msh[3:7] == ["FHIR", "CLINIC", "LAB", "LABFAC"]
    assert msh[9] == "ACK^A01^ACK" and msh[10] and msh[10] != "ABC" and msh[12] == "2.5.1" and msh[11] == "P"
    assert msa[1:3] == ["CA", "ABC"]
    parsed = parse_message(ack, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)
    assert parsed.msa.msa_2.value == "ABC"
    second = build_ack(header, "CA", [], moment, application=False)
    assert segment(second, "MSH")[10] != msh[10]  # a fresh control id every time


def test_err_text_is_escaped() -> None:
    header, _ = parse_header(msg("X"))
    assert header is not None
    ack = build_ack(header, "AE", [HL7Error("102", "OBX^2^5", "Value a|b^c&d~e\\f\nis wrong")], datetime.now(UTC))
    err = segment(ack, "ERR")
    assert err[2] == "OBX^2^5" and err[3] == "102^Data type error^HL70357" and err[4] == "E"
    assert err[8] == "Value a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f is wrong"
    assert escape("plain") == "plain"


def test_every_error_code_over_the_wire(database: EmbeddedDatabase) -> None:
    async def scenario() -> list[str]:
        async with listening(database) as running:
            client = await Client.connect(running.port)
            acks = [await client.send(message) for message, *_ in CASES]
            await client.close()
            stored = await running.messages.list(limit=50)
            assert len(stored) == len(CASES)  # nothing received is lost, rejected ones included
            assert {m.status for m in stored} == {"error"}
            assert all(m.acks and m.error for m in stored)
            return acks

    acks = asyncio.run(scenario())
    for (message, code, err_code, location), ack in zip(CASES, acks, strict=True):
        msa, err = segment(ack, "MSA"), segment(ack, "ERR")
        assert msa[1] == code, ack
        assert err[3].split("^")[0] == err_code and err[2] == location, ack
        assert err[4] == "E" and len(err[8]) > 10, ack  # a readable text
        header, _ = parse_header(message)
        if header is not None:
            assert msa[2] == header.control_id


@pytest.mark.parametrize("version", ["2.3", "2.5.1"])
def test_ack_keeps_the_version(version: str) -> None:
    header, _ = parse_header(msg("V").replace("|2.5.1", f"|{version}"))
    ack = build_ack(header, "AR", [HL7Error("207", "MSH^1", "down")], datetime.now(UTC))
    assert segment(ack, "MSH")[12] == version
    assert (segment(ack, "MSA")[3:4] == ["down"]) is (version == "2.3")  # MSA-3 text only for old receivers
