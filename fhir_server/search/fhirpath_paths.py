"""Search parameter expressions compiled to direct accessors over resource dicts.

Extraction runs on every write and fhirpathpy is slow, so the FHIRPath subset the R4 search
parameters use is compiled here into a chain of steps over `(value, FHIR type)` pairs: dotted
paths with `[n]`, `where(resolve() is T)`, `as(T)`/`ofType(T)`/`(path as T)`, `first()` and
`where(field = 'literal')`. Types come from the R4 model, so a choice element such as
`Observation.value` reads every `value<Type>` key and knows each value's type. A branch outside
that subset is evaluated with fhirpathpy (which copies values and lacks `resolve()`), with
types guessed from the values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fhirpathpy import compile as fhirpath_compile
from fhirpathpy.models import models

from profiles.model import ELEMENT, RESOURCE, model

Pair = tuple[Any, str]
Step = Callable[[list[Pair]], list[Pair]]

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_MEMBER = re.compile(rf"({_IDENT})(?:\[(\d+)\])?")
_RESOLVE = re.compile(rf"where\(\s*resolve\(\)\s+is\s+({_IDENT})\s*\)")
_EQUALS = re.compile(rf"where\(\s*({_IDENT})\s*=\s*'([^']*)'\s*\)")
_AS = re.compile(rf"(?:as|ofType)\(\s*({_IDENT})\s*\)")
_PAREN_AS = re.compile(rf"\((.+)\s+as\s+({_IDENT})\)(.*)", re.DOTALL)
_PRESENT = re.compile(r"(?P<path>[\w.]+)\.exists\(\)\s+and\s+(?P=path)\s*!=\s*false")
_ROOTS = ("Resource", "DomainResource")
QUANTITY_TYPES = frozenset({"Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"})


class Unsupported(Exception):
    """The branch is outside the compiled subset; fhirpathpy evaluates it."""


def split_top(text: str, separator: str) -> list[str]:
    """Split on `separator` outside parentheses, brackets and quoted strings."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part.strip() for part in parts]


def reference_type(reference: str) -> str | None:
    """The resource type a literal reference names: `Patient/1`, `.../Patient/1/_history/2`."""
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2][:1].isupper() and parts[-2].isalpha():
        return parts[-2]
    return None


def _type_matches(actual: str, wanted: str) -> bool:
    if wanted == "Quantity":
        return actual in QUANTITY_TYPES
    return actual == wanted or actual.lower() == wanted.lower()


class _Compiler:
    """Turns one branch into steps, tracking the set of FHIR types the values may have."""

    def __init__(self, start_types: tuple[str, ...]) -> None:
        self.types = start_types
        self.steps: list[Step] = []
        self.last_table: dict[str, list[tuple[str, str]]] | None = None

    def member(self, name: str) -> None:
        table: dict[str, list[tuple[str, str]]] = {}
        types = model().types
        for in_type in self.types:
            typedef = types.get(in_type)
            if typedef is None:  # a primitive has no children; a contained resource's type is not known here
                if in_type == "Resource":
                    raise Unsupported(name)
                continue
            props = [p for p in typedef.props.values() if p.kind != ELEMENT and (p.name == name or p.choice == name)]
            if props:
                table[in_type] = [(p.name, "Resource" if p.kind == RESOURCE else p.type) for p in props]
        if not table:
            raise Unsupported(f"{name} is not an element of {self.types}")
        self.types = tuple(dict.fromkeys(out for pairs in table.values() for _key, out in pairs))
        self.last_table = table
        self.steps.append(_child_step(table))

    def as_type(self, wanted: str) -> None:
        keep = tuple(t for t in self.types if _type_matches(t, wanted))
        self.types = keep
        if self.last_table is not None:  # narrow the choice read itself: `value.as(Quantity)` reads valueQuantity
            for pairs in self.last_table.values():
                pairs[:] = [(key, out) for key, out in pairs if out in keep]
            return
        kept = frozenset(keep)
        self.steps.append(lambda items: [item for item in items if item[1] in kept])

    def add(self, step: Step) -> None:
        self.steps.append(step)
        self.last_table = None


def _child_step(table: dict[str, list[tuple[str, str]]]) -> Step:
    def step(items: list[Pair]) -> list[Pair]:
        out: list[Pair] = []
        for node, node_type in items:
            pairs = table.get(node_type)
            if pairs is None or node.__class__ is not dict:
                continue
            for key, out_type in pairs:
                value = node.get(key)
                if value is None:
                    continue
                if value.__class__ is list:
                    out.extend([(v, out_type) for v in value])
                else:
                    out.append((value, out_type))
        return out

    return step


def _resolve_is(wanted: str) -> Step:
    def step(items: list[Pair]) -> list[Pair]:
        out = []
        for node, node_type in items:
            if node_type == "Reference" and node.__class__ is dict:
                ref = node.get("reference")
                known = reference_type(ref) if isinstance(ref, str) else None
                if (known or node.get("type")) == wanted:
                    out.append((node, node_type))
        return out

    return step


def _equals(field: str, literal: str) -> Step:
    return lambda items: [item for item in items if item[0].__class__ is dict and item[0].get(field) == literal]


def _index_step(index: int) -> Step:
    return lambda items: items[index : index + 1]


def _present_step(items: list[Pair]) -> list[Pair]:
    return [(any(value is not False for value, _type in items), "boolean")]


def _compile_branch(branch: str, resource_type: str, context: str | None) -> tuple[bool, list[Step]] | None:
    """(starts at the resource?, steps) for one `|` branch; None when it is about another resource type."""
    present = _PRESENT.fullmatch(branch)
    if present:  # Patient-deceased: `deceased.exists() and deceased != false`, always one boolean
        found = _compile_branch(present.group("path"), resource_type, context)
        return found and (found[0], [*found[1], _present_step])
    tail: list[str] = []
    paren = _PAREN_AS.fullmatch(branch)
    if paren:
        branch, wanted, rest = paren.group(1).strip(), paren.group(2), paren.group(3).strip()
        if rest and not rest.startswith("."):
            raise Unsupported(rest)
        tail = [f"as({wanted})", *(split_top(rest[1:], ".") if rest else [])]
    tokens = split_top(branch, ".") + tail
    rooted = context is None or tokens[0] == "%resource"
    if rooted and tokens[0][:1].islower():  # InsurancePlan-name is `name | alias`: relative to the resource
        tokens.insert(0, resource_type)
    if rooted:
        if tokens.pop(0) not in (resource_type, *_ROOTS, "%resource"):
            return None
        compiler = _Compiler((resource_type,))
    else:
        compiler = _Compiler((context or resource_type,))
    for token in tokens:
        if match := _MEMBER.fullmatch(token):
            compiler.member(match.group(1))
            if match.group(2) is not None:
                compiler.add(_index_step(int(match.group(2))))
        elif match := _AS.fullmatch(token):
            compiler.as_type(match.group(1))
        elif match := _RESOLVE.fullmatch(token):
            if set(compiler.types) - {"Reference"}:
                raise Unsupported(token)
            compiler.add(_resolve_is(match.group(1)))
        elif match := _EQUALS.fullmatch(token):
            compiler.add(_equals(match.group(1), match.group(2)))
        elif token == "first()":
            compiler.add(lambda items: items[:1])
        else:
            raise Unsupported(token)
    return rooted, compiler.steps


def guess_type(value: Any) -> str:
    """The FHIR type of a value fhirpathpy returned, from its Python type and keys."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | Decimal):
        return "decimal"
    if not isinstance(value, dict):
        return "string"
    keys = value.keys()
    for marker, fhir_type in _MARKERS:
        if marker <= keys:
            return fhir_type
    return "Element"


_MARKERS: tuple[tuple[frozenset[str], str], ...] = tuple(
    (frozenset(keys.split()), fhir_type)
    for keys, fhir_type in (
        ("resourceType", "Resource"),
        ("coding", "CodeableConcept"),
        ("reference", "Reference"),
        ("value currency", "Money"),
        ("value unit", "Quantity"),
        ("value code", "Quantity"),
        ("start", "Period"),
        ("end", "Period"),
        ("family", "HumanName"),
        ("given", "HumanName"),
        ("city", "Address"),
        ("line", "Address"),
        ("system value", "Identifier"),
        ("code", "Coding"),
        ("identifier", "Reference"),
        ("text", "CodeableConcept"),
    )
)


class Accessor:
    """A compiled search expression: `evaluate(resource)` gives the `(value, FHIR type)` pairs it selects."""

    __slots__ = ("expression", "branches", "fallbacks")

    def __init__(self, expression: str, branches: list[tuple[bool, list[Step]]], fallbacks: list[str]) -> None:
        self.expression = expression
        self.branches = branches
        self.fallbacks = fallbacks  # branches fhirpathpy evaluates

    def evaluate(self, resource: dict[str, Any]) -> list[Pair]:
        """The values for a resource (expressions starting with the resource type)."""
        return self.evaluate_from([(resource, resource["resourceType"])], resource)

    def evaluate_from(self, items: list[Pair], resource: dict[str, Any]) -> list[Pair]:
        """The values starting from `items` (a composite's match), `%resource` being `resource`."""
        out: list[Pair] = []
        root: list[Pair] = [(resource, resource["resourceType"])]
        for rooted, steps in self.branches:
            current = root if rooted else items
            for step in steps:  # no early exit on empty: `_present_step` turns nothing into false
                current = step(current)
            out += current
        for branch in self.fallbacks:
            for node, _type in items:
                try:
                    values = _fhirpath(branch)(node, {"resource": resource})
                except Exception:  # noqa: BLE001 - fhirpathpy raises bare exceptions on odd data; index nothing
                    continue
                out += [(value, guess_type(value)) for value in values]
        return out


_compiled_fhirpath: dict[str, Callable[..., list[Any]]] = {}


def _fhirpath(expression: str) -> Callable[..., list[Any]]:
    function = _compiled_fhirpath.get(expression)
    if function is None:
        function = _compiled_fhirpath[expression] = fhirpath_compile(expression, models["r4"])
    return function


def compile_expression(expression: str, resource_type: str, context: str | None = None) -> Accessor:
    """Compile `expression` for `resource_type`; `context` is the type relative expressions start from."""
    branches: list[tuple[bool, list[Step]]] = []
    fallbacks: list[str] = []
    for branch in split_top(expression, "|"):
        try:
            steps = _compile_branch(branch, resource_type, context)
        except Unsupported:
            fallbacks.append(branch)
            continue
        if steps is not None:
            branches.append(steps)
    return Accessor(expression, branches, fallbacks)
