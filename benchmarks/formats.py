"""What FHIR XML costs, and what its negotiation adds to a JSON request (in-process, no server).

Prints: microseconds that FormatMiddleware adds to a JSON request (typical client headers, no
`_format`) and to an XML one, against calling the application directly; then JSON → XML and
XML → JSON over the 714 vendored R4 examples (ms per pass, MB/s), beside the JSON codec.

    python benchmarks/formats.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import time
from pathlib import Path
from typing import Any

from fhir_server.fhir_json import dumps, loads
from fhir_server.formats.middleware import FormatMiddleware
from fhir_server.formats.xml_read import parse_xml
from fhir_server.formats.xml_write import to_xml

EXAMPLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "r4-examples.ndjson.gz"
HEADERS = [(b"host", b"localhost"), (b"user-agent", b"python-httpx"), (b"accept-encoding", b"gzip"),
           (b"connection", b"keep-alive"), (b"content-type", b"application/fhir+json")]  # fmt: skip


async def _app(scope: Any, receive: Any, send: Any) -> None:
    return None


def _per_call_us(app: Any, scope: dict[str, Any], calls: int) -> float:
    async def run() -> float:
        started = time.perf_counter()
        for _ in range(calls):
            await app(scope, None, None)
        return (time.perf_counter() - started) / calls * 1e6

    return asyncio.run(run())


def _best_ms(work: Any, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    calls = 200_000
    base = {"type": "http", "path": "/fhir/Patient/example", "query_string": b"", "headers": HEADERS}
    direct = min(_per_call_us(_app, base, calls) for _ in range(rounds))
    middleware = FormatMiddleware(_app)
    print("negotiation, microseconds per request above calling the app directly:")
    for label, scope in (
        ("JSON, no Accept", base),
        ("JSON, Accept: application/fhir+json", {**base, "headers": [*HEADERS, (b"accept", b"application/fhir+json")]}),
        ("JSON, search query", {**base, "query_string": b"name=Chalmers&_count=20"}),
        ("XML, _format=xml", {**base, "query_string": b"_format=xml"}),
    ):
        cost = min(_per_call_us(middleware, scope, calls) for _ in range(rounds)) - direct
        print(f"  {label:40} {cost:6.2f}")
    with gzip.open(EXAMPLES) as lines:
        resources = [loads(line)["resource"] for line in lines]
    documents = [to_xml(r) for r in resources]
    json_bytes = sum(len(dumps(r)) for r in resources)
    xml_bytes = sum(len(d) for d in documents)
    print(f"\n{len(resources)} R4 examples: {json_bytes / 1e6:.1f} MB as JSON, {xml_bytes / 1e6:.1f} MB as XML")
    for label, work, size in (
        ("JSON write (fhir_json.dumps)", lambda: [dumps(r) for r in resources], json_bytes),
        ("XML write (to_xml)", lambda: [to_xml(r) for r in resources], xml_bytes),
        ("XML read (parse_xml)", lambda: [parse_xml(d) for d in documents], xml_bytes),
    ):
        ms = _best_ms(work, rounds)
        print(f"  {label:30} {ms:8.1f} ms per pass  {size / ms / 1e3:6.1f} MB/s")


if __name__ == "__main__":
    main()
