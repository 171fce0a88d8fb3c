"""What `gc.freeze()` after startup saves: the time of a full garbage collection in a started app.

The app is built and its lifespan started in this process (embedded database, auth open), which freezes what
startup built (fhir_server/app.py); the script times full collections with that set frozen, then unfrozen.
A full collection of the unfrozen set is the pause each worker would otherwise take now and then while serving.

Usage: ``python benchmarks/gc_pause.py``
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from pathlib import Path

from fhir_server.app import create_app
from fhir_server.config import Settings
from fhir_server.storage import EmbeddedDatabase


def full_ms(runs: int = 20) -> float:
    """The median time of `runs` full collections, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[runs // 2]


async def main(uri: str, tmp: str) -> None:
    app = create_app(Settings(mongodb_uri=uri, database="gcm", auth="open", data_dir=Path(tmp)))
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
        print(f"objects frozen after startup: {frozen:,}; tracked outside the frozen set: {len(gc.get_objects()):,}")
        print(f"full collection (median of 20), frozen: {full_ms():.1f} ms")
        gc.unfreeze()
        print(f"full collection (median of 20), not frozen: {full_ms():.1f} ms; tracked: {len(gc.get_objects()):,}")
        gc.freeze()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp, EmbeddedDatabase(Path(tmp) / "db") as db:
        asyncio.run(main(db.uri, tmp))
