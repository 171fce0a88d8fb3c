"""Change, hold and release orders (ORC-1 XO, HD, RL): sent when the lab must know, replaced while unsent,
never ahead of the order they change."""

from __future__ import annotations

import asyncio

from adapters.hl7v2.outbound.sequence import lab_view
from fhir_server.storage import EmbeddedDatabase

from . import IMPATIENT, TestLab, fields, spare_port, statuses, world


def test_lab_view_keeps_what_the_message_carries() -> None:
    body = {"resourceType": "ServiceRequest", "id": "1", "status": "active", "priority": "stat",
            "identifier": [{"value": "x"}], "note": [{"text": "fasting", "time": "2024-01-01"}],
            "meta": {"versionId": "2"}, "authoredOn": "2024-01-01", "reasonCode": [{"text": "why"}]}  # fmt: skip
    assert lab_view(body) == {"priority": "stat", "note": ["fasting"]}


def test_a_change_the_lab_sees_sends_xo_and_others_send_nothing(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA")
        port = await lab.start()
        async with world(database) as w:
            order = await w.order(await w.lab(port))
            await w.until(order, lambda e: statuses(e) == ["acknowledged"])
            await w.change(order, identifier=None, authoredOn="2024-05-06", reasonCode=[{"text": "check-up"}])
            await w.change(order, priority="stat", note=[{"text": "after breakfast"}],
                           occurrenceDateTime="2024-06-01T08:00:00Z")  # fmt: skip
            entries = await w.until(order, lambda e: statuses(e) == ["acknowledged", "acknowledged"])
            assert [e.control for e in entries] == ["NW", "XO"]
            new, change = lab.received
            assert fields(change, "ORC")[1] == "XO" and fields(change, "ORC")[2] == fields(new, "ORC")[2]
            assert fields(change, "OBR")[2] == fields(new, "OBR")[2] == fields(new, "ORC")[2]
            assert fields(change, "MSH")[10] == entries[1].control_id != fields(new, "MSH")[10]
            assert fields(change, "TQ1")[7] == "20240601080000+0000" and fields(change, "TQ1")[9] == "S^Stat^HL70485"
            assert fields(change, "NTE")[3] == "after breakfast"
            await w.change(order, authoredOn="2024-05-07", status="active")  # nothing new for the lab
            await asyncio.sleep(0.3)
            assert len(await w.entries(order)) == 2 and len(lab.received) == 2
        await lab.stop()

    asyncio.run(scenario())


def test_on_hold_sends_hd_and_active_again_sends_rl(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA")
        port = await lab.start()
        async with world(database) as w:
            order = await w.order(await w.lab(port, structure="ORM_O01"))
            await w.until(order, lambda e: statuses(e) == ["acknowledged"])
            await w.change(order, status="on-hold")
            await w.until(order, lambda e: statuses(e) == ["acknowledged"] * 2)
            await w.change(order, status="active", priority="asap")  # a release carries the order as it is now
            entries = await w.until(order, lambda e: statuses(e) == ["acknowledged"] * 3)
            assert [e.control for e in entries] == ["NW", "HD", "RL"]
            assert [fields(m, "ORC")[1] for m in lab.received] == ["NW", "HD", "RL"]
            assert fields(lab.received[2], "ORC")[7] == "^^^^^A"
            assert fields(lab.received[1], "MSH")[9] == "ORM^O01^ORM_O01"
        await lab.stop()

    asyncio.run(scenario())


def test_an_update_before_the_order_left_replaces_it(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        port = spare_port()
        async with world(database) as w:
            order = await w.order(await w.lab(port))  # the lab is down: the order stays in the outbox
            await w.until(order, lambda e: e[0].tries >= 1)
            await w.change(order, priority="stat")
            await w.change(order, status="on-hold")
            entries = await w.until(order, lambda e: statuses(e) == ["withdrawn"] * 3)
            assert [e.transmissions for e in entries] == [0, 0, 0]
            assert all("before it was sent" in (e.error or "") for e in entries[:2]), entries
            assert "does not ask for it" in (entries[2].error or "")
            await w.change(order, status="active")
            lab = TestLab("AA")
            await lab.start(port)
            entries = await w.until(order, lambda e: statuses(e) == ["withdrawn"] * 3 + ["acknowledged"])
            assert [e.control for e in entries][2:] == ["HD", "NW"]  # the release became the order
            [message] = lab.received
            assert fields(message, "ORC")[1] == "NW" and fields(message, "TQ1")[9].startswith("S")
            assert fields(message, "MSH")[10] == entries[3].control_id
            await lab.stop()

    asyncio.run(scenario())


def test_a_change_waits_for_the_ack_of_the_order(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("none", "AA")  # the first message goes unanswered: the order is sent again
        port = await lab.start()
        async with world(database, IMPATIENT) as w:
            order = await w.order(await w.lab(port))
            await w.until(order, lambda e: e[0].transmissions >= 1)
            await w.change(order, priority="stat")  # queued while the order waits for its ACK
            entries = await w.until(order, lambda e: statuses(e) == ["acknowledged", "acknowledged"])
            assert [fields(m, "ORC")[1] for m in lab.received] == ["NW", "NW", "XO"]
            assert fields(lab.received[1], "MSH")[10] == entries[0].control_id  # the same order, again
            assert entries[0].transmissions == 2 and entries[1].transmissions == 1
        await lab.stop()

    asyncio.run(scenario())


def test_a_refused_order_corrected_is_sent_again_as_new(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AE", "AA")
        port = await lab.start()
        async with world(database) as w:
            order = await w.order(await w.lab(port))
            await w.until(order, lambda e: statuses(e) == ["failed"])
            await w.change(order, note=[{"text": "specimen: serum"}])
            entries = await w.until(order, lambda e: statuses(e) == ["failed", "acknowledged"])
            assert [e.control for e in entries] == ["NW", "NW"]
            assert [fields(m, "ORC")[1] for m in lab.received] == ["NW", "NW"]
        await lab.stop()

    asyncio.run(scenario())
