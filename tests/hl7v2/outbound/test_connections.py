"""One MLLP connection per lab: successive messages share it, a connection the lab hung up is replaced at once,
an idle one is closed."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from fhir_server.storage import EmbeddedDatabase

from . import FAST, TestLab, statuses, until, world


def test_successive_orders_share_one_connection(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA")
        port = await lab.start()
        async with world(database) as w:
            organization = await w.lab(port)
            orders = [await w.order(organization) for _ in range(3)]
            orders += await asyncio.gather(*(w.order(organization) for _ in range(3)))
            await until(w.outbox.list, lambda e: statuses(e) == ["acknowledged"] * 6)
            assert len(lab.received) == 6 and lab.connections == [1] * 6 and lab.opened == 1
            assert lab.closed == 0
        await lab.stop()

    asyncio.run(scenario())


def test_a_connection_the_lab_hung_up_is_replaced_without_a_retry(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA", hang_up_after=2)
        port = await lab.start()
        async with world(database) as w:
            organization = await w.lab(port)
            for _ in range(5):
                await w.order(organization)
                await asyncio.sleep(0.05)
            entries = await until(w.outbox.list, lambda e: statuses(e) == ["acknowledged"] * 5)
            assert len(lab.received) == 5 and lab.opened == 3 and lab.connections == [1, 1, 2, 2, 3]
            assert all("retrying" not in [event["status"] for event in e.events] for e in entries)
        await lab.stop()

    asyncio.run(scenario())


def test_a_reused_connection_closed_under_a_message_is_replaced_for_it(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA", "hang up", "AA")
        port = await lab.start()
        async with world(database) as w:
            organization = await w.lab(port)
            first = await w.order(organization)
            await w.until(first, lambda e: statuses(e) == ["acknowledged"])
            second = await w.order(organization)
            [entry] = await w.until(second, lambda e: statuses(e) == ["acknowledged"])
            assert lab.connections == [1, 1, 2] and lab.received[1] == lab.received[2]  # the same text, at once
            assert [event["status"] for event in entry.events] == ["queued", "sent", "sent", "acknowledged"]
            assert entry.transmissions == 2
        await lab.stop()

    asyncio.run(scenario())


def test_an_idle_connection_is_closed(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        lab = TestLab("AA")
        port = await lab.start()
        async with world(database, replace(FAST, link=replace(FAST.link, idle_timeout=0.2))) as w:
            organization = await w.lab(port)
            first = await w.order(organization)
            await w.until(first, lambda e: statuses(e) == ["acknowledged"])
            await until(lambda: asyncio.sleep(0, lab.closed), lambda closed: closed == 1)
            second = await w.order(organization)
            await w.until(second, lambda e: statuses(e) == ["acknowledged"])
            assert lab.connections == [1, 2]
        await lab.stop()

    asyncio.run(scenario())
