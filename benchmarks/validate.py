"""Validations per second on the vendored R4 examples: the validator runs on every create/update.

Usage: ``python benchmarks/validate.py [seconds-per-round]``
"""

from __future__ import annotations

import gzip
import json
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from profiles import validate_resource  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "r4-examples.ndjson.gz"


def _rates(resources: list[Any], seconds: float) -> tuple[float, float]:
    """Best and median validations/s over 5 rounds: the best filters out noise from other processes."""
    number = max(1, int(seconds * 2000 / len(resources)))
    rounds = timeit.repeat(lambda: [validate_resource(r) for r in resources], number=number, repeat=5)
    rates = sorted(number * len(resources) / t for t in rounds)
    return rates[-1], rates[2]


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as fh:
        examples = {row["file"]: row["resource"] for row in map(json.loads, fh)}
    validate_resource({})  # load the model outside the timing
    cases = {
        "Patient-example.json": [examples["Patient-example.json"]],
        "Observation-example.json": [examples["Observation-example.json"]],
        f"all {len(examples)} examples": list(examples.values()),
    }
    for name, resources in cases.items():
        best, median = _rates(resources, seconds)
        print(f"{name:28} {best:10,.0f} validations/s (median {median:,.0f})")


if __name__ == "__main__":
    main()
