"""MLLP framing: the decoder alone, then the same cases over real sockets."""

from __future__ import annotations

import asyncio

from adapters.hl7v2.framing import FrameDecoder, frame
from fhir_server.storage import EmbeddedDatabase

from . import Client, listening, msg, segment


def test_decoder_split_joined_garbage_and_oversize() -> None:
    decoder = FrameDecoder(max_frame_bytes=50)
    data = b"noise" + frame(b"one") + frame(b"two")
    assert decoder.feed(data[:7]) == []
    assert decoder.feed(data[7:12]) == [b"one"]
    assert decoder.feed(data[12:]) == [b"two"]
    assert decoder.garbage_bytes == 5
    assert decoder.feed(b"\x0b" + b"x" * 60) == []  # over the limit: dropped
    assert decoder.feed(b"y" * 10 + b"\x1c\r" + frame(b"three")) == [b"three"]
    assert decoder.oversized_frames == 1
    assert decoder.feed(b"\x0bpartial\x0bfresh\x1c") == [b"fresh"]  # a new start byte resynchronizes
    assert decoder.feed(b"\r") == [] and not decoder.in_frame


def test_split_frames_and_two_frames_in_one_write(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database) as running:
            client = await Client.connect(running.port)
            data = frame(msg("S1").encode())
            for i in range(0, len(data), 7):  # one frame across many TCP writes
                await client.write(data[i : i + 7])
                await asyncio.sleep(0.001)
            first = await client.receive()
            assert segment(first, "MSA")[1:3] == ["AA", "S1"], first
            await client.write(frame(msg("S2").encode()) + frame(msg("S3").encode()))
            acks = [await client.receive(), await client.receive()]
            assert [segment(a, "MSA")[2] for a in acks] == ["S2", "S3"]  # in order
            for i in range(4, 10):  # many messages on one persistent connection
                assert segment(await client.send(msg(f"S{i}")), "MSA")[1] == "AA"
            await client.close()

    asyncio.run(scenario())


def test_garbage_and_endless_frame_do_not_harm_other_connections(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database, max_frame_bytes=4096, frame_timeout=0.5) as running:
            good = await Client.connect(running.port)
            noisy = await Client.connect(running.port)
            await noisy.write(b"GET / HTTP/1.1\r\n\r\n")  # garbage before the start byte
            assert segment(await noisy.send(msg("G1")), "MSA")[1:3] == ["AA", "G1"]
            endless = await Client.connect(running.port)
            await endless.write(b"\x0b" + b"A" * 10_000)  # over the size limit: dropped
            assert segment(await endless.send(msg("G2")), "MSA")[1:3] == ["AA", "G2"]  # resynchronized
            stalled = await Client.connect(running.port)
            await stalled.write(b"\x0bMSH|^~\\&|never ends")
            assert segment(await good.send(msg("G3")), "MSA")[1] == "AA"
            assert await stalled.closed_by_server(timeout=5)  # frame timeout closed only that one
            assert segment(await good.send(msg("G4")), "MSA")[1] == "AA"
            for c in (good, noisy, endless, stalled):
                await c.close()

    asyncio.run(scenario())


def test_idle_timeout_and_connection_limit(database: EmbeddedDatabase) -> None:
    async def scenario() -> None:
        async with listening(database, idle_timeout=0.5, max_connections=2) as running:
            first, second = await Client.connect(running.port), await Client.connect(running.port)
            assert segment(await first.send(msg("L1")), "MSA")[1] == "AA"
            assert segment(await second.send(msg("L2")), "MSA")[1] == "AA"
            third = await Client.connect(running.port)
            assert await third.closed_by_server(timeout=5)  # over the limit
            assert await first.closed_by_server(timeout=5)  # idle
            assert await second.closed_by_server(timeout=5)
            fourth = await Client.connect(running.port)  # the slots are free again
            assert segment(await fourth.send(msg("L3")), "MSA")[1] == "AA"
            for c in (first, second, third, fourth):
                await c.close()

    asyncio.run(scenario())
