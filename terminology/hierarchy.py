"""Subsumption in a stored CodeSystem, for the token modifiers `:below` and `:above`.

https://hl7.org/fhir/R4/search.html#token — `code:below=system|X` matches X and every code
under it; `code:above=system|X` matches X and every code above it. The hierarchy is the
nesting of `CodeSystem.concept` (the usual `hierarchyMeaning: is-a`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _walk(concepts: list[dict[str, Any]], ancestors: tuple[str, ...]) -> Iterator[tuple[str, tuple[str, ...]]]:
    for concept in concepts:
        code = concept.get("code")
        if not isinstance(code, str):
            continue
        yield code, ancestors
        yield from _walk(concept.get("concept") or [], (*ancestors, code))


def related_codes(code_system: dict[str, Any], code: str, direction: str) -> list[str]:
    """`code` with its descendants (`below`) or its ancestors (`above`); empty when the code is unknown."""
    tree = list(_walk(code_system.get("concept") or [], ()))
    if direction == "above":
        for found, ancestors in tree:
            if found == code:
                return [*ancestors, code]
        return []
    if not any(found == code for found, _ancestors in tree):
        return []
    return [code, *(found for found, ancestors in tree if code in ancestors)]
