"""The sender against a test lab on a real socket: ACKs, a lab that is down, silence, AE/AR, wrong MSA-2."""

from __future__ import annotations

import asyncio

from adapters.hl7v2.mapping.orders import PLACER_SYSTEM
from fhir_server.engine import read_resource
from fhir_server.engine.conditional import find_matches
from fhir_server.storage import EmbeddedDatabase
from tests.conftest import TEST_POLICY

from . import IMPATIENT, TestLab, fields, spare_port, statuses, world


def test_order_is_sent_once_and_acknowledged(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA")
        port = await lab.start()
        async with world(database) as w:
            order = await w.order(await w.lab(port), priority="stat", note=[{"text": "fasting | 12 h"}])
            [entry] = await w.until(order, lambda e: statuses(e) == ["acknowledged"])
            await asyncio.sleep(0.2)
            assert len(lab.received) == 1
            message = lab.received[0]
            assert fields(message, "MSH")[9] == "OML^O21^OML_O21" and fields(message, "MSH")[12] == "2.5.1"
            assert fields(message, "MSH")[5:7] == ["CITYLAB", "CITYLABFAC"]
            assert fields(message, "MSH")[10] == entry.control_id
            order_id, placer = order.split("/")[1], fields(message, "ORC")[2]
            assert len(order_id) > 15 and 0 < len(placer) <= 15  # the id is too long for a LIS: a number is made
            assert fields(message, "ORC")[1] == "NW" and fields(message, "OBR")[2] == placer
            assert fields(message, "OBR")[4] == "2345-7^Glucose^LN"
            assert fields(message, "PID")[3] == "MRN-7^^^&1.2.3.4&ISO" and fields(message, "PID")[5] == "Doe^Jane^Q"
            assert fields(message, "TQ1")[9].startswith("S") and fields(message, "NTE")[3] == "fasting \\F\\ 12 h"
            stored = (await read_resource(w.store, TEST_POLICY, "ServiceRequest", order_id)).resource()
            assert {"system": PLACER_SYSTEM, "value": placer} in [
                {k: i[k] for k in ("system", "value")} for i in stored["identifier"]
            ]
            assert entry.ack is not None and "MSA|AA|" in entry.ack
            assert [e["status"] for e in entry.events] == ["queued", "sent", "acknowledged"]
        await lab.stop()

    asyncio.run(scenario())


def test_a_lab_that_is_down_gets_the_order_when_it_comes_up(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        port = spare_port()
        async with world(database) as w:
            order = await w.order(await w.lab(port))
            entries = await w.until(order, lambda e: e[0].tries >= 2)
            assert entries[0].status == "retrying" and entries[0].transmissions == 0
            assert "127.0.0.1" in (entries[0].error or "")
            lab = TestLab("AA")
            await lab.start(port)
            [entry] = await w.until(order, lambda e: statuses(e) == ["acknowledged"])
            assert len(lab.received) == 1 and entry.transmissions == 1
            await lab.stop()

    asyncio.run(scenario())


def test_no_ack_resends_with_the_same_control_id(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("none", "AA")
        port = await lab.start()
        async with world(database, IMPATIENT) as w:
            order = await w.order(await w.lab(port))
            [entry] = await w.until(order, lambda e: statuses(e) == ["acknowledged"])
            assert len(lab.received) >= 2 and len(set(lab.received)) == 1  # the very same text, again
            assert fields(lab.received[1], "MSH")[10] == entry.control_id and entry.transmissions == len(lab.received)
            assert [e["status"] for e in entry.events][:4] == ["queued", "sent", "retrying", "sent"]
            assert "No ACK" in entry.events[2]["note"]
        await lab.stop()

    asyncio.run(scenario())


def test_an_ack_for_another_message_is_not_an_ack(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("wrong", "AA")
        port = await lab.start()
        async with world(database, IMPATIENT) as w:
            order = await w.order(await w.lab(port))
            [entry] = await w.until(order, lambda e: statuses(e) == ["acknowledged"])
            assert len(lab.received) >= 2 and fields(lab.received[-1], "MSH")[10] == entry.control_id
            assert "someone-else" in entry.events[2]["note"] and entry.events[2]["status"] == "retrying"
        await lab.stop()

    asyncio.run(scenario())


def test_ae_and_ar_stop_the_order_and_flag_a_task(database: EmbeddedDatabase) -> None:
    async def scenario(answer: str) -> None:
        lab = TestLab(answer)
        port = await lab.start()
        async with world(database) as w:
            order = await w.order(await w.lab(port))
            [entry] = await w.until(order, lambda e: statuses(e) == ["failed"])
            await asyncio.sleep(0.3)  # several backoffs: nothing is sent again
            assert len(lab.received) == 1
            assert f"answered {answer}" in (entry.error or "") and "Specimen source is required" in (entry.error or "")
            [task] = [r.resource() for r in await find_matches(w.store, TEST_POLICY, "Task", [("focus", order)], 5)]
            assert task["status"] == "requested" and "Specimen source is required" in task["statusReason"]["text"]
            assert task["for"]["reference"].startswith("Patient/")
        await lab.stop()

    asyncio.run(scenario("AE"))
    asyncio.run(scenario("AR"))
