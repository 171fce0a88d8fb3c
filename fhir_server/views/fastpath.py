"""Direct accessors for the plain paths most view columns are, about ten times faster than fhirpathpy.

fhirpathpy evaluates a plain path at a few thousand rows a second (it wraps every value in a node
and copies). The search module already compiles the R4 search expressions' subset (dotted members,
`[n]`, `ofType(T)`, `first()`, `where(field = 'literal')`) to typed steps over `(value, FHIR type)`
pairs, the types taken from the R4 model (search/fhirpath_paths.py); a view's path is compiled with
it, for the type of the node it is evaluated on, plus a last call the IG's views use often:
`exists()`, `empty()`, `join(...)`, `getReferenceKey([type])`, `getResourceKey()` alone, and a
comparison of such a path with a string, boolean or integer literal (`status = 'final'`).

Anything else (operators, unions, variables, other functions, an unknown node type) is left to
fhirpathpy: `fast_path` gives None and the caller evaluates the expression there. Both give the
same results on the official test suite, which runs through both (tests/views/test_sof_suite.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..search.fhirpath_paths import Accessor, compile_expression, split_top

Node = tuple[Any, str | None]
Fast = Callable[[Node], list[Node]]

_PLAIN = re.compile(r"^[A-Za-z0-9_.\[\]()' =!:/-]+$")
"""What a candidate may contain: no `%`, `$`, `|`, arithmetic or other quotes (an `=` outside a
`where(field = 'literal')` is not compiled by the search module, so it goes to fhirpathpy)."""
_JOIN = re.compile(r"^join\(\s*(?:'([^'\\]*)')?\s*\)$")
_REFERENCE_KEY = re.compile(r"^getReferenceKey\(\s*([A-Za-z]*)\s*\)$")


def _reference_key(wanted: str) -> Callable[[list[Node]], list[Node]]:
    def keys(values: list[Node]) -> list[Node]:
        out: list[Node] = []
        for value, _type in values:
            reference = value.get("reference") if value.__class__ is dict else None
            if not isinstance(reference, str):
                continue
            parts = reference.split("/_history/")[0].split("/")
            if len(parts) >= 2 and (not wanted or wanted == parts[-2]):
                out.append((f"{parts[-2]}/{parts[-1]}", "string"))
        return out

    return keys


def _join(separator: str) -> Callable[[list[Node]], list[Node]]:
    def join(values: list[Node]) -> list[Node]:
        if any(not isinstance(value, str) for value, _type in values):
            raise ValueError("join() needs strings")
        return [(separator.join(value for value, _type in values), "string")]

    return join


def _last_call(token: str) -> Callable[[list[Node]], list[Node]] | None:
    if token == "exists()":
        return lambda values: [(bool(values), "boolean")]
    if token == "empty()":
        return lambda values: [(not values, "boolean")]
    if match := _JOIN.match(token):
        return _join(match.group(1) or "")
    if match := _REFERENCE_KEY.match(token):
        return _reference_key(match.group(1))
    return None


def _resource_key(node: Node) -> list[Node]:
    value = node[0]
    if value.__class__ is dict and "resourceType" in value and "id" in value:
        return [(f"{value['resourceType']}/{value['id']}", "string")]
    return []


_COMPARISON = re.compile(
    r"^(?P<path>[^=!]+?)\s*(?P<op>!?=)\s*(?:'(?P<text>[^'\\]*)'|(?P<bool>true|false)|(?P<int>-?\d+))$"
)


def _literal(match: re.Match[str]) -> Any:
    if match.group("text") is not None:
        return match.group("text")
    if match.group("bool") is not None:
        return match.group("bool") == "true"
    return int(match.group("int"))


def _equal(value: Any, literal: Any) -> bool:
    if isinstance(literal, bool) or isinstance(value, bool):
        return value is literal
    if isinstance(literal, str):
        return isinstance(value, str) and value == literal
    return isinstance(value, int | float) and not isinstance(value, bool) and value == literal


def _comparison(expression: str, node_type: str) -> Fast | None:
    """`path = literal` (or `!=`): empty when the path is, false for several values, as FHIRPath's `=`."""
    match = _COMPARISON.match(expression)
    if match is None:
        return None
    left = fast_path(match.group("path"), node_type)
    if left is None:
        return None
    literal, negate = _literal(match), match.group("op") == "!="

    def compare(node: Node) -> list[Node]:
        values = left(node)
        if not values:
            return []
        equal = len(values) == 1 and _equal(values[0][0], literal)
        return [(equal != negate, "boolean")]

    return compare


def fast_path(expression: str, node_type: str) -> Fast | None:
    """`expression` as a direct accessor from a node of `node_type`; None when fhirpathpy must evaluate it."""
    expression = expression.strip()
    if not _PLAIN.match(expression):
        return None
    if "where(" not in expression and (comparison := _comparison(expression, node_type)) is not None:
        return comparison
    if expression.strip() == "getResourceKey()":
        return _resource_key
    tokens = split_top(expression, ".")
    last = _last_call(tokens[-1]) if tokens else None
    path = ".".join(tokens[:-1]) if last is not None else expression
    if not path:
        return None
    try:
        accessor: Accessor = compile_expression(path, node_type, node_type)
    except Exception:  # noqa: BLE001 - anything it cannot compile is fhirpathpy's
        return None
    if accessor.fallbacks or len(accessor.branches) != 1 or accessor.branches[0][0]:
        return None
    steps = accessor.branches[0][1]

    def evaluate(node: Node) -> list[Node]:
        current: list[Any] = [node]
        for step in steps:
            current = step(current)
        return last(current) if last is not None else current

    return evaluate
