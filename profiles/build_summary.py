"""Build `profiles/summary-elements.json.gz` from the R4 StructureDefinitions (developers only).

`python -m profiles.build_summary ../shared/fhir-r4` lists, per resource type, the top-level
elements marked `isSummary` (for `_summary=true`) and those with min > 0 (kept by
`_summary=text` and `_elements`, search.html#summary).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

OUTPUT = Path(__file__).with_name("summary-elements.json.gz")


def build(definitions: Path) -> dict[str, dict[str, list[str]]]:
    bundle = json.loads((definitions / "profiles-resources.json").read_text())
    out: dict[str, dict[str, list[str]]] = {}
    for entry in bundle["entry"]:
        sd = entry["resource"]
        if sd.get("resourceType") != "StructureDefinition" or sd.get("kind") != "resource":
            continue
        if sd.get("abstract") or sd.get("derivation") != "specialization" or sd.get("fhirVersion") != "4.0.1":
            continue
        summary, mandatory = [], []
        for element in sd["snapshot"]["element"]:
            parts = element["path"].split(".")
            if len(parts) != 2:
                continue
            name = parts[1].replace("[x]", "")
            if element.get("isSummary"):
                summary.append(name)
            if element.get("min", 0) > 0:
                mandatory.append(name)
        out[sd["type"]] = {"summary": summary, "mandatory": mandatory}
    return out


def main() -> None:
    data = build(Path(sys.argv[1]))
    with gzip.GzipFile(OUTPUT, "wb", mtime=0) as handle:
        handle.write(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    print(f"{OUTPUT}: {len(data)} resource types")


if __name__ == "__main__":
    main()
