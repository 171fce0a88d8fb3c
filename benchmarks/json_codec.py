"""JSON reading and writing of resources: `fhir_json` (exact decimals, repeated keys refused) against plain orjson.

Every request body is read once with `loads(..., unique_keys=True)`, every stored body that the engine
needs as a dict (update, patch, `_elements`) with `loads`, and every write is `dumps`. The standard
library's scanner reads (it hands over decimal texts, orjson cannot); orjson still writes.

Usage: ``python benchmarks/json_codec.py [seconds-per-round]``
"""

from __future__ import annotations

import gzip
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fhir_server.fhir_json import dumps, loads  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "tests" / "fixtures" / "r4-examples.ndjson.gz"
SYNTHEA = ROOT / "tests" / "fixtures" / "synthea-sample.json.gz"


def _best(action: Callable[[], Any], seconds: float) -> float:
    """The fastest of 5 rounds, in seconds per call (the best filters out noise from other processes)."""
    number = max(1, int(seconds / max(timeit.timeit(action, number=1), 1e-6)))
    return min(timeit.repeat(action, number=number, repeat=5)) / number


def _row(name: str, raws: list[bytes], seconds: float) -> str:
    exact = [loads(raw) for raw in raws]
    plain = [orjson.loads(raw) for raw in raws]
    times = [
        _best(lambda: [orjson.loads(r) for r in raws], seconds),
        _best(lambda: [loads(r) for r in raws], seconds),
        _best(lambda: [loads(r, unique_keys=True) for r in raws], seconds),
        _best(lambda: [orjson.dumps(p) for p in plain], seconds),
        _best(lambda: [dumps(e) for e in exact], seconds),
    ]
    reads, writes = (" ".join(f"{t * 1000:10.1f}" for t in part) for part in (times[:3], times[3:]))
    return f"{name:28} {reads} | {writes}  ({sum(map(len, raws)) / 1e6:.1f} MB)"


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    with gzip.open(EXAMPLES, "rb") as fh:
        examples = [orjson.dumps(orjson.loads(line)["resource"]) for line in fh]
    bundles = [orjson.dumps(b) for b in orjson.loads(gzip.decompress(SYNTHEA.read_bytes()))]
    print(f"{'milliseconds':28} {'orjson':>10} {'loads':>10} {'unique':>10} | {'orjson':>10} {'dumps':>10}")
    print(_row(f"{len(examples)} R4 examples", examples, seconds))
    print(_row(f"{len(bundles)} Synthea bundles", bundles, seconds))


if __name__ == "__main__":
    main()
