"""Which search parameters each resource type has: R4 core + US Core, plus ones posted at run time.

The vendored definitions (built by `build_registry`) are loaded once by `default_registry()`.
Resource-level parameters (`_id`, `_lastUpdated`, `_tag`, `_profile`, `_security`, `_source`)
apply to every type; `_id` and `_lastUpdated` are answered from stored fields, so extraction
skips them (`ENGINE_PARAMETERS`).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fhirpathpy import evaluate
from fhirpathpy.models import models

from profiles.model import model

from ..errors import InvalidRequest
from ..i18n import _
from .definitions import PARAMETER_TYPES, Component, SearchParameterDef
from .fhirpath_paths import split_top

HERE = Path(__file__).parent
PARAMETERS_FILE = HERE / "search-parameters.json.gz"
COMPARTMENT_FILE = HERE / "patient-compartment.json.gz"

ENGINE_PARAMETERS = frozenset({"_id", "_lastUpdated"})
"""Answered by the engine from stored fields, never extracted into the index."""

ALL_TYPES = ("Resource", "DomainResource")


def _definition(raw: Mapping[str, Any]) -> SearchParameterDef:
    return SearchParameterDef(
        code=raw["code"],
        type=raw["type"],
        url=raw.get("url") or "",
        expression=raw.get("expression"),
        bases=tuple(raw["base"]),
        targets=tuple(raw.get("target") or ()),
        components=tuple(Component(c["definition"], c["expression"]) for c in raw.get("component") or ()),
        modifiers=tuple(raw.get("modifier") or ()),
        comparators=tuple(raw.get("comparator") or ()),
        version=raw.get("version"),
    )


def _branches_for(expression: str | None, base: str) -> set[str]:
    """The `|` branches of an expression that apply to `base`, spaces removed, to compare two definitions."""
    branches = {re.sub(r"\s+", "", part) for part in split_top(expression or "", "|")}
    return {part for part in branches if part.lstrip("(").startswith((base + ".", "Resource."))}


class SearchRegistry:
    """Search parameters by resource type and code, and the patient compartment's membership rules."""

    def __init__(self, definitions: list[SearchParameterDef], compartment: Mapping[str, list[str]]) -> None:
        self._own: dict[str, dict[str, SearchParameterDef]] = {}
        self._by_url: dict[str, SearchParameterDef] = {}
        self._merged: dict[str, dict[str, SearchParameterDef]] = {}
        self._builtin: set[str] = set()
        self._compartment = {key: tuple(value) for key, value in compartment.items()}
        self.plans: dict[str, Any] = {}
        """Per resource type, what `extract` compiled from these definitions; cleared on `register`."""
        self.registered_at: dict[str, datetime] = {}
        """When each run-time parameter (by URL) was last (re)defined."""
        self.reindexed_at: datetime | None = None
        """When the last completed `$reindex` started; resources written before it are indexed for all parameters."""
        self.layout_changed_at: datetime | None = None
        """When the database's search index layout last changed (the stored resources then need a `$reindex`)."""
        for definition in definitions:
            self._add(definition)
        self._builtin = set(self._by_url)

    def _add(self, definition: SearchParameterDef) -> None:
        for base in definition.bases:
            self._own.setdefault(base, {})[definition.code] = definition
        if definition.url:
            self._by_url[definition.url] = definition
        self._merged.clear()
        self.plans.clear()

    def parameters_for(self, resource_type: str) -> Mapping[str, SearchParameterDef]:
        """Every parameter `resource_type` can be searched by, Resource-level ones included."""
        merged = self._merged.get(resource_type)
        if merged is None:
            merged = {}
            for base in (*ALL_TYPES, resource_type):
                merged.update(self._own.get(base, {}))
            self._merged[resource_type] = merged
        return merged

    def get(self, resource_type: str, code: str) -> SearchParameterDef | None:
        """The parameter `code` of `resource_type`, or None when there is none."""
        return self.parameters_for(resource_type).get(code)

    def by_url(self, url: str) -> SearchParameterDef | None:
        """The parameter with this canonical URL (composite components name theirs by URL)."""
        return self._by_url.get(url.split("|", 1)[0])

    def compartment_parameters(self, resource_type: str) -> tuple[str, ...]:
        """The parameters whose Patient references put a `resource_type` resource in that patient's compartment."""
        return self._compartment.get(resource_type, ())

    def layout_pending(self) -> bool:
        """Whether a change of the search index layout is still being re-indexed: searches may miss resources."""
        changed = self.layout_changed_at
        return changed is not None and (self.reindexed_at is None or self.reindexed_at < changed)

    def is_pending(self, definition: SearchParameterDef) -> bool:
        """Whether results for a run-time parameter may miss resources written before it was defined."""
        defined = self.registered_at.get(definition.url)
        return defined is not None and (self.reindexed_at is None or self.reindexed_at < defined)

    def register(
        self, search_parameter_resource: dict[str, Any], defined_at: datetime | None = None
    ) -> list[SearchParameterDef]:
        """Add a SearchParameter resource posted at run time; return the definitions it now stands for.

        Raises InvalidRequest when it lacks code/base/type/expression, names an unknown base or
        type, or would replace a built-in parameter with a different expression (posting the same
        definition again, as loading an IG package does, is accepted).
        """
        sp = search_parameter_resource

        def bad(message: str, element: str) -> InvalidRequest:
            return InvalidRequest(message, expression=f"SearchParameter.{element}")

        for element in ("code", "type", "expression"):
            if not isinstance(sp.get(element), str) or not sp[element].strip():
                raise bad(_("A SearchParameter needs '{element}'.").format(element=element), element)
        bases = sp.get("base")
        if not isinstance(bases, list) or not bases or not all(isinstance(b, str) for b in bases):
            raise bad(_("A SearchParameter needs 'base'."), "base")
        known = set(model().resource_types) | set(ALL_TYPES)
        for base in bases:
            if base not in known:
                raise bad(_("'{base}' is not an R4 resource type.").format(base=base), "base")
        if sp["type"] not in PARAMETER_TYPES:
            raise bad(_("'{type}' is not a search parameter type.").format(type=sp["type"]), "type")
        if sp["type"] == "composite":
            components = sp.get("component")
            if not isinstance(components, list) or not components:
                raise bad(_("A composite SearchParameter needs 'component'."), "component")
            for comp in components:
                if not isinstance(comp, dict) or self.by_url(str(comp.get("definition", ""))) is None:
                    raise bad(_("A component names an unknown search parameter."), "component")
                if not isinstance(comp.get("expression"), str):
                    raise bad(_("A SearchParameter needs '{element}'.").format(element="expression"), "component")
        _check_expression(sp["expression"], [b for b in bases if b not in ALL_TYPES])
        definition = _definition(sp)
        for base in bases:
            existing = self.get(base, definition.code)
            if existing is not None and existing.url in self._builtin and existing.url != definition.url:
                if _branches_for(existing.expression, base) == _branches_for(definition.expression, base):
                    return [existing]
                raise bad(
                    _("Search parameter '{code}' of {base} is already defined by {url}.").format(
                        code=definition.code, base=base, url=existing.url
                    ),
                    "code",
                )
        self._add(definition)
        if defined_at is not None and definition.url:
            self.registered_at[definition.url] = defined_at
        return [definition]


def _check_expression(expression: str, bases: list[str]) -> None:
    """Refuse an expression fhirpathpy cannot run (its parser is lenient; evaluation is not)."""
    for base in bases:
        try:
            evaluate({"resourceType": base}, expression, {"resource": {"resourceType": base}}, models["r4"])
        except Exception as exc:  # fhirpathpy raises bare Exception/KeyError for malformed expressions
            raise InvalidRequest(
                _("'{expression}' is not a valid FHIRPath expression.").format(expression=expression[:200]),
                expression="SearchParameter.expression",
            ) from exc


def load(parameters_file: Path = PARAMETERS_FILE, compartment_file: Path = COMPARTMENT_FILE) -> SearchRegistry:
    """A registry of the vendored definitions (a fresh one: `register` on it affects no one else)."""
    with gzip.open(parameters_file, "rt", encoding="utf-8") as fh:
        raw = json.load(fh)
    with gzip.open(compartment_file, "rt", encoding="utf-8") as fh:
        compartment = json.load(fh)
    return SearchRegistry([_definition(sp) for sp in raw], compartment)


@cache
def default_registry() -> SearchRegistry:
    """The process-wide registry, loaded on first use."""
    return load()
