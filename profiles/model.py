"""The vendored R4 model turned into lookup tables the validator walks without further work.

Loaded once, on first use: every JSON property name a type allows (choice variants like
``valueQuantity`` and primitive siblings like ``_birthDate`` included) maps to a `Prop` that
already knows its shape, type checker, child type and required-binding codes.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

from profiles.primitives import Checker, build_checkers
from terminology import allowed_codes

MODEL_FILE = Path(__file__).with_name("r4-model.json.gz")

PRIMITIVE, COMPLEX, RESOURCE, ELEMENT = 0, 1, 2, 3  # ELEMENT: the `_name` sibling of a primitive


class Prop:
    """One JSON property of a type, with everything needed to check its value."""

    __slots__ = ("name", "type", "kind", "many", "choice", "check", "children", "codes", "systems")

    def __init__(self, name: str, type_code: str, kind: int, many: bool, choice: str | None) -> None:
        self.name = name  # the JSON property name, also used in expressions
        self.type = type_code
        self.kind = kind
        self.many = many  # max is "*" (R4 core has no other max above 1; build_model checks that)
        self.choice = choice  # base name of a value[x] element, for the one-choice rule
        self.check: Checker | None = None
        self.children: TypeDef | None = None
        self.codes: frozenset[str] | None = None  # required binding on a code
        self.systems: frozenset[str] = frozenset()  # systems of a required binding on Coding/CodeableConcept


class TypeDef:
    """A datatype, resource or backbone element: its properties and required elements."""

    __slots__ = ("key", "props", "required", "is_resource")

    def __init__(self, key: str, is_resource: bool) -> None:
        self.key = key
        self.props: dict[str, Prop] = {}
        self.required: list[tuple[str, tuple[str, ...]]] = []  # (element name, JSON names that satisfy it)
        self.is_resource = is_resource


class Model:
    __slots__ = ("resource_types", "types", "unchecked")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.resource_types: tuple[str, ...] = tuple(sorted(raw["r"]))
        self.unchecked: frozenset[str] = frozenset(raw["u"])
        resources = set(self.resource_types)
        checkers = build_checkers(raw["p"])
        self.types: dict[str, TypeDef] = {key: TypeDef(key, key in resources) for key in raw["t"]}
        vs_systems: dict[str, list[str]] = raw["vs"]
        for key, elements in raw["t"].items():
            td = self.types[key]
            for name, minimum, maximum, codes, vs, choice in elements:
                satisfied: list[str] = []
                for code in codes:
                    json_name = name + code[0].upper() + code[1:] if choice else name
                    satisfied.append(json_name)
                    if code in checkers:
                        kind = PRIMITIVE
                    elif code == "Resource" or code in resources:
                        kind = RESOURCE
                    else:
                        kind = COMPLEX
                    prop = Prop(json_name, code, kind, maximum != 1, name if choice else None)
                    td.props[json_name] = prop
                    if kind == PRIMITIVE:
                        prop.check = checkers[code]
                        sibling = Prop(json_name, "Element", ELEMENT, prop.many, prop.choice)
                        td.props["_" + json_name] = sibling
                        satisfied.append("_" + json_name)
                    elif kind == COMPLEX:
                        prop.children = self.types[code]
                    if vs and code in ("code", "Coding", "CodeableConcept"):
                        codes_allowed = allowed_codes(vs)
                        if codes_allowed is not None:
                            prop.codes = codes_allowed
                            if code != "code":
                                prop.systems = frozenset(vs_systems.get(vs, ()))
                if minimum > 0:
                    td.required.append((name, tuple(satisfied)))
        element = self.types["Element"]
        for td in self.types.values():
            for prop in td.props.values():
                if prop.kind == ELEMENT:
                    prop.children = element


@cache
def model() -> Model:
    """The R4 model, parsed on first use (a few ms) and shared afterwards."""
    with gzip.open(MODEL_FILE, "rt", encoding="utf-8") as fh:
        return Model(json.load(fh))
