"""Search index extractions per second on the vendored R4 examples: extraction runs on every write.

The first pass over every example compiles each type's plan and is left out of the timing, as
a running server has done it after its first write of each type.

Usage: ``python benchmarks/extract.py [seconds-per-round]``
"""

from __future__ import annotations

import gzip
import json
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fhir_server.search.extract import extract_index  # noqa: E402
from fhir_server.search.registry import default_registry  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "r4-examples.ndjson.gz"
CASES = (
    "Patient-example.json",
    "Observation-example.json",
    "Observation-blood-pressure.json",
    "Encounter-home.json",
    "MedicationRequest-medrx0308.json",
    "Questionnaire-qs1.json",
)


def _rates(resources: list[Any], seconds: float) -> tuple[float, float]:
    """Best and median extractions/s over 5 rounds: the best filters out noise from other processes."""
    registry = default_registry()
    number = max(1, int(seconds * 3000 / len(resources)))
    rounds = timeit.repeat(lambda: [extract_index(r, registry) for r in resources], number=number, repeat=5)
    rates = sorted(number * len(resources) / t for t in rounds)
    return rates[-1], rates[2]


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as fh:
        examples = {row["file"]: row["resource"] for row in map(json.loads, fh)}
    everything = list(examples.values())
    entries = sum(len(extract_index(r).entries) for r in everything)  # compile every plan outside the timing
    cases = {name: [examples[name]] for name in CASES if name in examples}
    cases[f"all {len(everything)} examples"] = everything
    for name, resources in cases.items():
        best, median = _rates(resources, seconds)
        print(f"{name:40} {best:10,.0f} extractions/s (median {median:,.0f})")
    print(f"{entries:,} index entries over all examples ({entries / len(everything):.1f} per resource)")


if __name__ == "__main__":
    main()
