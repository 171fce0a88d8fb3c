"""X12 control numbers drawn by several processes at once never repeat (storage/x12_control.py)."""

from __future__ import annotations

import subprocess
import sys

from fhir_server.storage import EmbeddedDatabase

DRAW = """
import asyncio, sys
from pymongo import AsyncMongoClient
from fhir_server.storage.x12_control import MongoX12ControlNumbers

async def main():
    async with AsyncMongoClient(sys.argv[1]) as client:
        store = MongoX12ControlNumbers(client, "x12_control_test")
        numbers = []
        for _ in range(40):
            numbers.extend(await store.draw("ISA13"))
        numbers.extend(await store.draw("ISA13", 5))
        print(" ".join(map(str, numbers)))

asyncio.run(main())
"""


def test_processes_drawing_at_once_get_distinct_numbers(database: EmbeddedDatabase) -> None:
    runs = [
        subprocess.Popen([sys.executable, "-c", DRAW, database.uri], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    drawn = []
    for run in runs:
        out, _err = run.communicate(timeout=120)
        assert run.returncode == 0
        drawn.extend(int(n) for n in out.split())
    assert len(drawn) == 4 * 45
    assert len(set(drawn)) == len(drawn)
    assert max(drawn) - min(drawn) == len(drawn) - 1  # consecutive: no number skipped or reused
