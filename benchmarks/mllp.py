"""MLLP receiver throughput: ORU^R01 with 10 OBX streamed over 1 and 4 persistent connections.

Starts the embedded database and the listener in-process, sends `--messages` messages (each
waits for its ACK, as MLLP senders do) and prints messages/s, ACK latency p50/p99 and the
database commands per message (the figure that does not move when the machine is busy). The
floor is the CPU work alone for one message: decoding, header checks and mapping, no database.
Uses `adapters.hl7v2.mapping.map_message` when present, else a trivial mapper (and says so).

Usage: ``python benchmarks/mllp.py [--messages 1000]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import monitoring

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.hl7v2.framing import FrameDecoder, frame  # noqa: E402
from adapters.hl7v2.header import decode, parse_header, split  # noqa: E402
from adapters.hl7v2.listener import ListenerSettings, start_listener  # noqa: E402
from fhir_server.config import Settings  # noqa: E402
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore  # noqa: E402
from fhir_server.storage.audit import AuditKey  # noqa: E402
from fhir_server.storage.database import Database  # noqa: E402


def oru(control: str, patient: int) -> str:
    lines = [
        f"MSH|^~\\&|LAB|LABFAC|FHIR|CLINIC|20240101120000||ORU^R01^ORU_R01|{control}|P|2.5.1",
        f"PID|1||MRN{patient}^^^LAB^MR||Doe{patient}^Jane||19800101|F",
        f"OBR|1|ORD{control}|FIL{control}|57021-8^CBC^LN|||20240101110000|||||||||||||||20240101115000|||F",
    ]
    for i in range(1, 11):
        lines.append(f"OBX|{i}|NM|{718 + i}-7^Analyte {i}^LN||{10 + i}.5|g/dL^g/dL^UCUM|10-20|N|||F|||20240101110000")
    return "\r".join(lines) + "\r"


class CommandCounter(monitoring.CommandListener):
    """Counts the database commands the client sends, by name."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


COMMANDS = CommandCounter()
monitoring.register(COMMANDS)


@dataclass
class Result:
    bundle: dict[str, Any] | None
    errors: list[Any] = field(default_factory=list)


def trivial_mapper(text: str, options: Any = None) -> Any:
    """Patient + 10 Observations, the shape the real mapper produces, without its detail."""
    pid = next(s for s in text.split("\r") if s.startswith("PID|")).split("|")
    entries: list[dict[str, Any]] = [
        {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "identifier": [{"value": pid[3]}]},
         "request": {"method": "POST", "url": "Patient"}}
    ]  # fmt: skip
    for obx in (s.split("|") for s in text.split("\r") if s.startswith("OBX|")):
        resource = {"resourceType": "Observation", "status": "final", "code": {"text": obx[3]},
                    "subject": {"reference": "urn:uuid:p"}, "valueString": obx[5]}  # fmt: skip
        entries.append({"resource": resource, "request": {"method": "POST", "url": "Observation"}})
    return Result({"resourceType": "Bundle", "type": "transaction", "entry": entries})


def choose_mapper() -> tuple[Any, str]:
    try:
        from adapters.hl7v2.mapping import map_message
    except ImportError:
        return trivial_mapper, "trivial (adapters.hl7v2.mapping not available)"
    return map_message, "adapters.hl7v2.mapping.map_message"


async def connection(port: int, messages: list[str], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    decoder = FrameDecoder()
    for text in messages:
        started = time.perf_counter()
        writer.write(frame(text.encode()))
        await writer.drain()
        acks: list[bytes] = []
        while not acks:
            acks = decoder.feed(await reader.read(65536))
        assert b"MSA|AA|" in acks[0], acks[0][:300]
        latencies.append(time.perf_counter() - started)
    writer.close()


async def run(db: EmbeddedDatabase, mapper: Any, total: int, connections: int) -> tuple[float, list[float], str]:
    settings = Settings(mongodb_uri=db.uri, database=f"mllp_{uuid.uuid4().hex[:8]}")
    async with Database.open(settings, AuditKey(os.urandom(32))) as database:
        server = await start_listener(database, ListenerSettings(port=0), mapper)
        port = server.sockets[0].getsockname()[1]
        batches = [[oru(f"B{c}-{i}", i % 200) for i in range(total // connections)] for c in range(connections)]
        await connection(port, [oru(f"warm-{i}", 1) for i in range(20)], [])
        latencies: list[float] = []
        COMMANDS.counts.clear()
        started = time.perf_counter()
        await asyncio.gather(*(connection(port, batch, latencies) for batch in batches))
        elapsed = time.perf_counter() - started
        commands = ", ".join(f"{name} {n / len(latencies):.1f}" for name, n in COMMANDS.counts.most_common())
        server.close()
        await server.wait_closed()
        await database.client.drop_database(settings.database)
    return len(latencies) / elapsed, latencies, commands


async def engine_only(db: EmbeddedDatabase, mapper: Any, runs: int = 100) -> list[float]:
    """process_bundle alone for the same bundles: the database part of the floor."""
    from fhir_server.auth.policy import AccessPolicy
    from fhir_server.engine.bundle import process_bundle

    store = MongoResourceStore.connect(db.uri, f"mllp_{uuid.uuid4().hex[:8]}")
    await store.ensure_indexes()
    times = []
    for i in range(runs):
        bundle = mapper(oru(f"E{i}", i % 200)).bundle
        started = time.perf_counter()
        await process_bundle(store, AccessPolicy.system("benchmark"), bundle, None)
        times.append(time.perf_counter() - started)
    await store.client.drop_database(store.database_name)
    await store.close()
    return times


def floor(mapper: Any, runs: int = 500) -> float:
    payloads = [oru(f"F{i}", i).encode() for i in range(runs)]
    started = time.perf_counter()
    for payload in payloads:
        message = split(decode(payload).text).messages[0]
        parse_header(message)
        mapper(message)
    return (time.perf_counter() - started) / runs


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100)[int(p) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--trivial", action="store_true", help="use the trivial mapper even if the real one exists")
    args = parser.parse_args()
    mapper, name = (trivial_mapper, "trivial (--trivial)") if args.trivial else choose_mapper()
    print(f"mapper: {name}")
    one = floor(mapper)
    print(f"floor (decode + header + mapping, no database): {one * 1000:.2f} ms/message = {1 / one:.0f} messages/s")
    with EmbeddedDatabase(Path(tempfile.mkdtemp(prefix="mllp-bench-"))) as db:
        engine = asyncio.run(engine_only(db, mapper))
        engine_rate = len(engine) / sum(engine)
        print(
            f"engine floor (process_bundle alone, one at a time): {engine_rate:.1f} messages/s, "
            f"p50 {pct(engine, 50):.1f} ms, p99 {pct(engine, 99):.1f} ms"
        )
        for connections in (1, 4):
            rate, latencies, commands = asyncio.run(run(db, mapper, args.messages, connections))
            print(
                f"{connections} connection(s): {rate:.1f} messages/s, ACK latency "
                f"p50 {pct(latencies, 50):.1f} ms, p99 {pct(latencies, 99):.1f} ms ({len(latencies)} messages); "
                f"database commands per message: {commands}; {engine_rate / rate:.2f}× the engine floor's time "
                "(target ≤ 1.5×)"
            )


if __name__ == "__main__":
    main()
