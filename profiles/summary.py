"""Which top-level elements `_summary` and `_elements` keep. https://hl7.org/fhir/R4/search.html#summary"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

SUMMARY_FILE = Path(__file__).with_name("summary-elements.json.gz")
_ALWAYS = ("resourceType", "id", "meta")


@cache
def _elements() -> dict[str, dict[str, frozenset[str]]]:
    raw = json.loads(gzip.decompress(SUMMARY_FILE.read_bytes()))
    return {t: {k: frozenset(v) for k, v in kinds.items()} for t, kinds in raw.items()}


def _element_name(key: str, names: frozenset[str]) -> bool:
    """Whether JSON property `key` belongs to one of `names` (`_birthDate`, `valueQuantity` for `value`)."""
    base = key.removeprefix("_")
    return base in names or any(base.startswith(n) and base[len(n) : len(n) + 1].isupper() for n in names)


def _keep(resource: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k in _ALWAYS or _element_name(k, names)}


def _mark_subsetted(resource: dict[str, Any]) -> dict[str, Any]:
    meta = dict(resource.get("meta") or {})
    tag = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
    meta["tag"] = [*meta.get("tag", []), tag]
    return {**resource, "meta": meta}


def summarize(resource: dict[str, Any], mode: str) -> dict[str, Any]:
    """The resource as `_summary=true|text|data` shows it (`false` returns it unchanged)."""
    if mode == "false":
        return resource
    kinds = _elements().get(resource.get("resourceType", ""), {})
    if mode == "true":
        kept = _keep(resource, kinds.get("summary", frozenset()))
    elif mode == "text":
        kept = _keep(resource, kinds.get("mandatory", frozenset()) | {"text"})
    else:  # data
        kept = {k: v for k, v in resource.items() if k not in ("text", "_text")}
    return _mark_subsetted(kept)


def select_elements(resource: dict[str, Any], elements: tuple[str, ...]) -> dict[str, Any]:
    """The resource as `_elements=a,b` shows it: those elements and the mandatory ones."""
    kinds = _elements().get(resource.get("resourceType", ""), {})
    return _mark_subsetted(_keep(resource, frozenset(elements) | kinds.get("mandatory", frozenset())))
