"""Build the vendored R4 model from the official definitions (developer tool, never run by the server).

Usage: ``python -m profiles.build_model ../shared/fhir-r4``

Writes ``profiles/r4-model.json.gz`` and ``terminology/required-bindings.json.gz``. Reading the
35 MB StructureDefinition bundles at server start would cost seconds and memory; the compact
model keeps only what the validator needs.

Model layout (short keys keep the file small)::

    {"r": [resource type names],
     "p": {primitive: [regex, maxLength or 0]},
     "t": {type key: [[name, min, max (-1 = *), [type codes], value set URL or "", choice 0/1], ...]},
     "vs": {value set URL: [code systems it draws from]},
     "u": [required-bound value sets that cannot be expanded here]}

A type code containing "." names a backbone element (or a ``contentReference`` target) in "t".
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FHIR_VERSION = "4.0.1"
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
BOUND_TYPES = {"code", "Coding", "CodeableConcept"}
ROOT = Path(__file__).resolve().parent.parent
MODEL_OUT = ROOT / "profiles" / "r4-model.json.gz"
BINDINGS_OUT = ROOT / "terminology" / "required-bindings.json.gz"

Json = dict[str, Any]


def _bundle(folder: Path, name: str) -> list[Json]:
    with open(folder / name, encoding="utf-8") as fh:
        return [e["resource"] for e in json.load(fh).get("entry", [])]


def _structure_definitions(folder: Path) -> list[Json]:
    """R4 definitions only: the shipped bundle also carries a stray R4B (4.3.0) SubscriptionStatus."""
    out = []
    for name in ("profiles-types.json", "profiles-resources.json"):
        for res in _bundle(folder, name):
            if res["resourceType"] == "StructureDefinition" and res.get("fhirVersion") == FHIR_VERSION:
                out.append(res)
    return out


def _type_code(sd: Json, el: Json, ty: Json) -> str:
    """System.* types (ids, Extension.url) carry their FHIR type in an extension; Resource.id is an `id`."""
    code: str = ty["code"]
    if not code.startswith("http://hl7.org/fhirpath/System."):
        return code
    if sd["kind"] == "resource" and el["path"] == sd["type"] + ".id":
        return "id"
    for ext in ty.get("extension", []):
        if ext["url"] == FHIR_TYPE_EXT:
            return str(ext["valueUrl"])
    return "string"


def _elements(sd: Json) -> dict[str, list[Any]]:
    """Group snapshot elements by parent path: the resource/type itself plus every backbone element."""
    types: dict[str, list[Any]] = {}
    snapshot = [el for el in sd["snapshot"]["element"] if ":" not in el["id"]]
    has_children = {el["path"].rpartition(".")[0] for el in snapshot}
    for el in snapshot[1:]:
        parent, _, name = el["path"].rpartition(".")
        choice = name.endswith("[x]")
        if choice:
            name = name[:-3]
        if "contentReference" in el:
            codes = [el["contentReference"].lstrip("#")]
        elif el["path"] in has_children:
            codes = [el["path"]]  # BackboneElement / Element with inline children
        else:
            codes = [_type_code(sd, el, ty) for ty in el.get("type", [])]
        binding = el.get("binding") or {}
        vs = ""
        if binding.get("strength") == "required" and BOUND_TYPES & {t["code"] for t in el.get("type", [])}:
            vs = str(binding.get("valueSet", "")).split("|")[0]
        maximum = -1 if el["max"] == "*" else int(el["max"])
        if maximum == 0:
            continue
        if maximum > 1:
            raise ValueError(f"{el['path']}: max {maximum} is not supported by the validator (only 1 or *)")
        types.setdefault(parent, []).append([name, el["min"], maximum, codes, vs, int(choice)])
    return types


def _concepts(concepts: Iterable[Json]) -> Iterable[str]:
    for c in concepts:
        yield c["code"]
        yield from _concepts(c.get("concept", []))


class _Expander:
    """Expand value sets from explicit concepts or whole, locally known, complete code systems."""

    def __init__(self, folder: Path) -> None:
        self.value_sets: dict[str, Json] = {}
        self.code_systems: dict[str, Json] = {}
        for name in ("valuesets.json", "v3-codesystems.json", "v2-tables.json"):
            for res in _bundle(folder, name):
                table = self.value_sets if res["resourceType"] == "ValueSet" else self.code_systems
                # Prefer the R4 release when a newer stray copy shares the URL.
                old = table.get(res["url"])
                if old is None or old.get("version") != FHIR_VERSION:
                    table[res["url"]] = res

    def expand(self, url: str, seen: frozenset[str] = frozenset()) -> tuple[set[str], set[str]] | None:
        """Return (codes, systems) or None when the set depends on filters or external systems."""
        vs = self.value_sets.get(url)
        if vs is None or url in seen or "compose" not in vs:
            return None
        codes: set[str] = set()
        systems: set[str] = set()
        compose = vs["compose"]
        if compose.get("exclude"):
            return None
        for inc in compose.get("include", []):
            if inc.get("filter"):
                return None
            for ref in inc.get("valueSet", []):
                sub = self.expand(ref.split("|")[0], seen | {url})
                if sub is None:
                    return None
                codes |= sub[0]
                systems |= sub[1]
            system = inc.get("system")
            if not system:
                continue
            systems.add(system)
            if inc.get("concept"):
                codes.update(c["code"] for c in inc["concept"])
                continue
            cs = self.code_systems.get(system)
            if cs is None or cs.get("content") != "complete" or not cs.get("concept"):
                return None
            codes.update(_concepts(cs["concept"]))
        return (codes, systems) if codes else None


def build(folder: Path) -> tuple[Json, dict[str, list[str]]]:
    sds = _structure_definitions(folder)
    resources = sorted(
        sd["type"]
        for sd in sds
        if sd["kind"] == "resource" and sd.get("derivation") == "specialization" and not sd["abstract"]
    )
    primitives: dict[str, list[Any]] = {}
    types: dict[str, list[Any]] = {}
    for sd in sds:
        if sd.get("derivation") == "constraint" or sd["kind"] == "logical":
            continue
        if sd["abstract"] and sd["type"] != "Element":  # Element is the shape of every `_primitive` object
            continue
        if sd["kind"] == "primitive-type":
            value = next(el for el in sd["snapshot"]["element"] if el["path"] == sd["type"] + ".value")
            exts = value["type"][0].get("extension", [])
            regex = next((e["valueString"] for e in exts if e["url"] == REGEX_EXT), "")
            primitives[sd["type"]] = [regex, value.get("maxLength", 0)]
        else:
            types.update(_elements(sd))
    expander = _Expander(folder)
    bindings: dict[str, list[str]] = {}
    vs_systems: dict[str, list[str]] = {}
    unchecked: set[str] = set()
    for elements in types.values():
        for el in elements:
            url = el[4]
            if not url or url in bindings or url in unchecked:
                continue
            expanded = expander.expand(url)
            if expanded is None:
                unchecked.add(url)
            else:
                bindings[url] = sorted(expanded[0])
                vs_systems[url] = sorted(expanded[1])
    model = {"r": resources, "p": primitives, "t": types, "vs": vs_systems, "u": sorted(unchecked)}
    return model, bindings


def _write(path: Path, data: Any) -> None:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    model, bindings = build(Path(argv[0]))
    _write(MODEL_OUT, model)
    _write(BINDINGS_OUT, bindings)
    print(f"{len(model['r'])} resource types, {len(bindings)} expanded value sets, {len(model['u'])} unchecked")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
