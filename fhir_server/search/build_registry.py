"""Developer script: vendor the R4 + US Core search parameters and the patient compartment.

    python -m fhir_server.search.build_registry /work/shared

The server never reads shared/ at run time, so this writes two small gzipped files next to
this module, keeping only what search needs. US Core parameters are added where R4 has no
parameter with the same code on the same base (race, ethnicity, gender-identity,
asserted-date, ...). Where the codes clash the core parameter is kept; the clashes whose
US Core expression differs from core are printed by the script. With US Core 6.1.0/7.0.0
none differ beyond spelling (`DocumentReference.id` for `Resource.id`, spacing, one branch of
a multi-resource core expression), so core wins without loss. Definitions whose version
is not R4 4.0.x (one R5 snapshot stray, DeviceDefinition-classification) and the three core
parameters without an expression (`_text`, `_content`, `_query`) are dropped.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path
from typing import Any

from profiles.model import model

HERE = Path(__file__).parent
PARAMETERS_FILE = HERE / "search-parameters.json.gz"
COMPARTMENT_FILE = HERE / "patient-compartment.json.gz"
US_CORE_VERSIONS = ("7.0.0", "6.1.0")  # newest first: it wins for US Core-only codes


def _compact(sp: dict[str, Any]) -> dict[str, Any]:
    """Only the keys SearchParameterDef is built from."""
    out: dict[str, Any] = {key: sp[key] for key in ("url", "version", "code", "base", "type", "expression")}
    for key in ("target", "modifier", "comparator"):
        if sp.get(key):
            out[key] = sp[key]
    if sp.get("component"):
        out["component"] = [{"definition": c["definition"], "expression": c["expression"]} for c in sp["component"]]
    return out


def _branches(expression: str, base: str) -> set[str]:
    """The `|` branches of an expression that apply to `base`, whitespace removed, for comparison."""
    parts = {re.sub(r"\s+", "", part).replace(base + ".", "Resource.") for part in expression.split("|")}
    return {p for p in parts if p.lstrip("(").startswith("Resource.")}


def _is_r4(sp: dict[str, Any], resource_types: set[str]) -> bool:
    fhir_version = sp.get("fhirVersion") or sp.get("version") or ""
    return fhir_version.startswith("4.0") and all(b in resource_types or b == "Resource" for b in sp["base"])


def build(shared: Path) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Read shared/ and return (compact parameters, {resource type: compartment params})."""
    resource_types = set(model().resource_types)
    bundle = json.loads((shared / "fhir-r4" / "search-parameters.json").read_text(encoding="utf-8"))
    core = [e["resource"] for e in bundle["entry"]]
    kept = [sp for sp in core if sp.get("expression") and _is_r4(sp, resource_types)]
    for sp in core:
        if sp not in kept:
            print(f"dropped core {sp['id']} (version {sp.get('version')}, expression {sp.get('expression')!r})")
    taken = {(base, sp["code"]): sp for sp in kept for base in sp["base"]}
    us_core: list[dict[str, Any]] = []
    for version in US_CORE_VERSIONS:
        for path in sorted((shared / "us-core" / version).glob("SearchParameter-*.json")):
            sp = json.loads(path.read_text(encoding="utf-8"))
            if sp.get("fhirVersion", "4.0.1").startswith("4.0"):
                us_core.append(sp)
    for sp in us_core:
        if sp["url"] in {k["url"] for k in kept}:
            continue  # already taken from the newer US Core version
        bases = [b for b in sp["base"] if b in resource_types]
        clash = [taken.get((b, sp["code"])) or taken.get(("Resource", sp["code"])) for b in bases]
        if any(clash):
            for base, other in zip(bases, clash, strict=True):
                if other and _branches(other["expression"], base) != _branches(sp["expression"], base):
                    print(f"kept core {other['url']} over {sp['url']}: {other['expression']!r} / {sp['expression']!r}")
            continue
        kept.append(sp)
        taken.update({(b, sp["code"]): sp for b in bases})
    compartment = json.loads((shared / "fhir-r4" / "compartmentdefinition-patient.json").read_text(encoding="utf-8"))
    members = {r["code"]: r["param"] for r in compartment["resource"] if r.get("param")}
    return sorted((_compact(sp) for sp in kept), key=lambda sp: sp["url"]), members


def _write(path: Path, data: Any) -> None:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    with path.open("wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0) as gz:
        gz.write(raw)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m fhir_server.search.build_registry SHARED_DIR")
        return 2
    parameters, members = build(Path(argv[0]))
    print(f"{len(parameters)} search parameters, {len(members)} compartment resource types")
    _write(PARAMETERS_FILE, parameters)
    _write(COMPARTMENT_FILE, members)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
