"""The prescribing knowledge base: a shipped, versioned JSON file (knowledge/knowledge-base.json) that a
practice extends without code, by naming a file of the same format in the `prescribing_knowledge_file`
setting. The extra file's entries are merged over the shipped ones (same code or class id: replaced; new:
added; interactions and dose ranges: added, a dose range for the same ingredient replaced). Both are
validated when the server starts: a broken file stops it with a message naming the file and the entry.

Ingredients are RxNorm ingredient concepts; drugs are RxNorm clinical drugs with the strength of each
ingredient in mg (what the dose range check needs) and optional NDC package codes. An interaction names
each side as `ingredient:<rxcui>` or `class:<id>`; its `source` is a key of `sources`.

What the shipped file's facts rest on (version 2026.12.2; the first version was written from memory and
had wrong facts, so every entry was checked and what could not be checked was removed rather than kept):
each ingredient and drug carries a `verified` note naming where its RxNorm code was found with its name
(the CPIC drug table keyed by RxNorm RXCUI, the openFDA NDC directory's `rxcui` of a product of that
strength and form, the FHIR R4 and Synthea examples, public FHIR examples); each interaction and dose
range names its source (the ONC high-priority list of Phansalkar et al. 2012, the HL7 PDDI CDS guide, US
labels). The checks' severities (`high` blocks signing) are this project's reading of those sources:
a pair the source calls contraindicated is `high`. The file is a small starting point, not a drug
knowledge base; `verified` is documentation and the loader ignores it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ...config import Settings

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"
SHIPPED = Path(__file__).parent / "knowledge" / "knowledge-base.json"
SEVERITIES = ("high", "moderate", "low")


class KnowledgeError(ValueError):
    """A knowledge base file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Drug:
    """A prescribable RxNorm code: a clinical drug (with strengths) or an ingredient itself."""

    code: str
    display: str
    strengths: Mapping[str, Decimal]
    """Ingredient rxcui → mg per unit (empty for an ingredient prescribed by its own code)."""


@dataclass(frozen=True)
class Interaction:
    a: str
    b: str
    severity: str
    summary: str
    source: str


@dataclass(frozen=True)
class DoseRange:
    ingredient: str
    max_single_mg: Decimal | None
    max_daily_mg: Decimal | None
    source: str


@dataclass
class Knowledge:
    """The merged knowledge base, indexed for the checks."""

    version: str
    sources: dict[str, str] = field(default_factory=dict)
    ingredients: dict[str, str] = field(default_factory=dict)
    """rxcui → display."""
    ingredient_classes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)
    duplicate_classes: set[str] = field(default_factory=set)
    allergy_class_codes: dict[str, str] = field(default_factory=dict)
    """An allergen code meaning a whole class (e.g. penicillin) → class id."""
    drugs: dict[str, Drug] = field(default_factory=dict)
    ndc: dict[str, str] = field(default_factory=dict)
    """NDC package code → drug rxcui."""
    interactions: list[Interaction] = field(default_factory=list)
    dose_ranges: dict[str, DoseRange] = field(default_factory=dict)

    def drug(self, system: str | None, code: str | None) -> Drug | None:
        """The drug a coding names (RxNorm drug or ingredient code, or a known NDC), None when unknown."""
        if not code:
            return None
        if system == NDC:
            code = self.ndc.get(code, "")
        elif system != RXNORM:
            return None
        if code in self.drugs:
            return self.drugs[code]
        if code in self.ingredients:
            return Drug(code, self.ingredients[code], {code: Decimal(0)})
        return None

    def tags(self, ingredient: str) -> set[str]:
        """`ingredient:<rxcui>` and the `class:<id>` of its classes: what interactions name."""
        return {f"ingredient:{ingredient}", *(f"class:{c}" for c in self.ingredient_classes.get(ingredient, ()))}


def _need(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise KnowledgeError(f"{where}: '{key}' must be a non-empty string")
    return value


def _mg(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise KnowledgeError(f"{where}: {value!r} is not a number of mg") from None
    if not number.is_finite() or number < 0:
        raise KnowledgeError(f"{where}: {value!r} is not a number of mg")
    return number


def _list(data: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise KnowledgeError(f"{where}: '{key}' must be a list of objects")
    return items


def _merge(knowledge: Knowledge, data: Any, where: str) -> None:
    if not isinstance(data, Mapping):
        raise KnowledgeError(f"{where}: expected a JSON object")
    if "version" in data:
        knowledge.version = (
            f"{knowledge.version}+{_need(data, 'version', where)}" if knowledge.version else data["version"]
        )
    sources = data.get("sources", {})
    if not isinstance(sources, Mapping):
        raise KnowledgeError(f"{where}: 'sources' must be an object")
    knowledge.sources.update({str(k): str(v) for k, v in sources.items()})
    for i, entry in enumerate(_list(data, "classes", where)):
        at = f"{where}: classes[{i}]"
        class_id = _need(entry, "id", at)
        knowledge.classes[class_id] = _need(entry, "display", at)
        if entry.get("duplicateTherapy"):
            knowledge.duplicate_classes.add(class_id)
        for code in entry.get("allergyCodes", []):
            knowledge.allergy_class_codes[str(code)] = class_id
    for i, entry in enumerate(_list(data, "ingredients", where)):
        at = f"{where}: ingredients[{i}]"
        code = _need(entry, "code", at)
        knowledge.ingredients[code] = _need(entry, "display", at)
        classes = tuple(entry.get("classes", []))
        unknown = [c for c in classes if c not in knowledge.classes]
        if unknown:
            raise KnowledgeError(f"{at}: unknown class {unknown[0]!r}")
        knowledge.ingredient_classes[code] = classes
    for i, entry in enumerate(_list(data, "drugs", where)):
        at = f"{where}: drugs[{i}]"
        code = _need(entry, "code", at)
        strengths: dict[str, Decimal] = {}
        for j, part in enumerate(_list(entry, "ingredients", at)):
            ingredient = _need(part, "code", f"{at}.ingredients[{j}]")
            if ingredient not in knowledge.ingredients:
                raise KnowledgeError(f"{at}.ingredients[{j}]: unknown ingredient {ingredient!r}")
            strengths[ingredient] = _mg(part.get("mg"), f"{at}.ingredients[{j}].mg") or Decimal(0)
        if not strengths:
            raise KnowledgeError(f"{at}: a drug needs at least one ingredient")
        knowledge.drugs[code] = Drug(code, _need(entry, "display", at), strengths)
        for ndc in entry.get("ndc", []):
            knowledge.ndc[str(ndc)] = code
    for i, entry in enumerate(_list(data, "interactions", where)):
        at = f"{where}: interactions[{i}]"
        sides = [_need(entry, "a", at), _need(entry, "b", at)]
        for side in sides:
            kind, _sep, key = side.partition(":")
            known = knowledge.ingredients if kind == "ingredient" else knowledge.classes if kind == "class" else {}
            if key not in known:
                raise KnowledgeError(f"{at}: {side!r} names no known ingredient or class")
        severity = _need(entry, "severity", at)
        if severity not in SEVERITIES:
            raise KnowledgeError(f"{at}: severity must be one of {', '.join(SEVERITIES)}")
        source = _need(entry, "source", at)
        if source not in knowledge.sources:
            raise KnowledgeError(f"{at}: source {source!r} is not listed in 'sources'")
        knowledge.interactions.append(Interaction(sides[0], sides[1], severity, _need(entry, "summary", at), source))
    for i, entry in enumerate(_list(data, "doseRanges", where)):
        at = f"{where}: doseRanges[{i}]"
        ingredient = _need(entry, "ingredient", at)
        if ingredient not in knowledge.ingredients:
            raise KnowledgeError(f"{at}: unknown ingredient {ingredient!r}")
        single, daily = _mg(entry.get("maxSingleMg"), at), _mg(entry.get("maxDailyMg"), at)
        if single is None and daily is None:
            raise KnowledgeError(f"{at}: give maxSingleMg or maxDailyMg")
        knowledge.dose_ranges[ingredient] = DoseRange(ingredient, single, daily, _need(entry, "source", at))


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KnowledgeError(f"Knowledge base {path}: {exc}") from exc


def load_knowledge(extra: Path | None = None) -> Knowledge:
    """The shipped knowledge base, with the file `extra` merged over it. Raises KnowledgeError."""
    knowledge = Knowledge(version="")
    _merge(knowledge, _read(SHIPPED), f"Knowledge base {SHIPPED.name}")
    if extra is not None:
        _merge(knowledge, _read(extra), f"Knowledge base {extra}")
    return knowledge


_installed: list[Knowledge] = []


def install_knowledge(extra: Path | None) -> Knowledge:
    """Load and make current the knowledge base of this process (at start: a broken file stops it)."""
    knowledge = load_knowledge(extra)
    _installed[:] = [knowledge]
    return knowledge


def current_knowledge() -> Knowledge:
    """The knowledge base of this process; a process that did not install one (a CLI import, the MLLP
    listener) loads it on first use with the `FHIR_PRESCRIBING_KNOWLEDGE_FILE` of its environment."""
    if not _installed:
        _installed.append(load_knowledge(Settings.from_env().prescribing_knowledge_file))
    return _installed[0]
