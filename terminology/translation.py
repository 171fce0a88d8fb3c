"""Code translation with ConceptMaps (the lookup behind `$translate`). https://hl7.org/fhir/R4/conceptmap.html

A translation is added beside the source coding in the same CodeableConcept, so it must be
true of whatever the source code describes. R4 `ConceptMapEquivalence` says how the target
relates to the source: `equal` and `equivalent` are the same concept, `wider` and `subsumes`
a broader one (less specific, still true). Those count. `narrower` and `specializes` claim
more than the source says, `inexact` and `relatedto` are only similar, `unmatched` and
`disjoint` say no: those never count. A missing equivalence is read as `equivalent` (R3
default). Retired ConceptMaps are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Coding = dict[str, Any]

ACCEPTED_EQUIVALENCES = ("equal", "equivalent", "wider", "subsumes")
"""In order of preference: when one code has several targets, the closest one wins."""


def translations(concept_maps: Iterable[dict[str, Any]], source_system: str) -> dict[str, Coding]:
    """Code → target Coding for every element of `source_system` in the maps' groups (the closest target wins)."""
    found: dict[str, tuple[int, Coding]] = {}
    for concept_map in concept_maps:
        if concept_map.get("status") == "retired":
            continue
        for group in concept_map.get("group") or []:
            if group.get("source") != source_system or not group.get("target"):
                continue
            for element in group.get("element") or []:
                code = element.get("code")
                best = _closest(group["target"], element.get("target") or [])
                if isinstance(code, str) and best is not None and (code not in found or best[0] < found[code][0]):
                    found[code] = best
    return {code: coding for code, (_rank, coding) in found.items()}


def _closest(system: str, targets: list[dict[str, Any]]) -> tuple[int, Coding] | None:
    """The accepted target with the most exact equivalence, with its rank (0 is best)."""
    ranked = []
    for target in targets:
        equivalence = target.get("equivalence") or "equivalent"
        if equivalence in ACCEPTED_EQUIVALENCES and isinstance(target.get("code"), str):
            coding = {"system": system, "code": target["code"]}
            if target.get("display"):
                coding["display"] = target["display"]
            ranked.append((ACCEPTED_EQUIVALENCES.index(equivalence), coding))
    return min(ranked, key=lambda item: item[0]) if ranked else None
