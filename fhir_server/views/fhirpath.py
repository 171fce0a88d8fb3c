"""The FHIRPath of SQL on FHIR v2 views: fhirpathpy with the functions the IG adds or defines differently.

fhirpathpy (already the server's FHIRPath engine) parses and evaluates the IG's subset: paths,
`where`, `exists`, `empty`, `first`, `ofType` on choice types (with the R4 model), `extension(url)`,
indexers, arithmetic, comparison and boolean logic, `%constants`. On top of it, through its
`userInvocationTable`:

- `getResourceKey()` and `getReferenceKey([type])`: not FHIRPath functions but the IG's; both give
  "Type/id", so a key of one resource equals the key of a reference to it, whatever the ids look
  like. A reference to another type than the one asked gives nothing.
- `lowBoundary()` and `highBoundary()` (FHIRPath 3.0, not in fhirpathpy) for decimal, date,
  dateTime and time values, as the IG's suite expects them (dateTime boundaries at millisecond
  precision with the widest time zones, +14:00 and -12:00). They need the FHIR type of their
  input (a date "2010-10-10" and a dateTime "2010-10-10" have different boundaries), which the
  user table's functions do not see, so they are added to fhirpathpy's own function registry
  (names it does not have; nothing of it changes for the server's other FHIRPath).
- `join()`: fhirpathpy gives an empty collection for an empty input; the IG's suite wants "".

An expression that is not FHIRPath is refused when the view is validated (`check_syntax`: fhirpathpy's
own parser recovers silently from syntax errors).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from fhirpathpy import compile as fhirpath_compile
from fhirpathpy.engine.invocations import invocation_registry
from fhirpathpy.engine.nodes import FP_Type, ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from .fastpath import Fast, Node, fast_path

MODEL = models["r4"]

Evaluate = Callable[[Node, dict[str, Any]], list[Node]]


def _resource_key(inputs: list[Any]) -> list[str]:
    return [f"{item['resourceType']}/{item['id']}" for item in inputs if isinstance(item, dict) and "id" in item]


def _reference_key(inputs: list[Any], type_specifier: Any = None) -> list[str]:
    wanted = getattr(type_specifier, "name", None)
    keys = []
    for item in inputs:
        reference = item.get("reference") if isinstance(item, dict) else None
        if not isinstance(reference, str):
            continue
        parts = reference.split("/_history/")[0].split("/")
        if len(parts) < 2:
            continue
        resource_type, resource_id = parts[-2], parts[-1]
        if wanted is None or wanted == resource_type:
            keys.append(f"{resource_type}/{resource_id}")
    return keys


def _join(inputs: list[Any], separator: str = "") -> str:
    return separator.join(str(item) for item in inputs)


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATETIME = re.compile(r"^(\d{4}(?:-\d{2}(?:-\d{2})?)?)T(\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)(Z|[+-]\d{2}:\d{2})?$")
_TIME = re.compile(r"^(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$")


def _date_boundary(text: str, high: bool) -> str | None:
    match = _DATE.match(text)
    if match is None:
        return None
    year, month, day = int(match[1]), match[2], match[3]
    if month is None:
        return f"{year:04d}-12-31" if high else f"{year:04d}-01-01"
    if day is None:
        last = calendar.monthrange(year, int(month))[1] if high else 1
        return f"{year:04d}-{month}-{last:02d}"
    return text


def _time_boundary(text: str, high: bool) -> str | None:
    match = _TIME.match(text)
    if match is None:
        return None
    hour, minute, second, fraction = match[1], match[2], match[3], match[4]
    filler = "59" if high else "00"
    milliseconds = (fraction or "")[:3].ljust(3, "9" if high else "0")
    return f"{hour}:{minute or filler}:{second or filler}.{milliseconds}"


def _datetime_boundary(text: str, high: bool) -> str | None:
    match = _DATETIME.match(text)
    if match is None:
        date = _date_boundary(text, high)
        if date is None:
            return None
        return f"{date}T23:59:59.999-12:00" if high else f"{date}T00:00:00.000+14:00"
    date, time, zone = _date_boundary(match[1], high), _time_boundary(match[2], high), match[3]
    if date is None or time is None:
        return None
    return f"{date}T{time}{zone or ('-12:00' if high else '+14:00')}"


def _decimal_boundary(value: Decimal, high: bool) -> Decimal:
    exponent = value.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    half = Decimal(5).scaleb(-(places + 1))
    return value + half if high else value - half


_TYPED_BOUNDARIES: dict[str, Callable[[str, bool], str | None]] = {
    "date": _date_boundary,
    "dateTime": _datetime_boundary,
    "instant": _datetime_boundary,
    "time": _time_boundary,
}


def _boundary(high: bool) -> Callable[[Any, list[Any]], list[Any]]:
    """lowBoundary()/highBoundary() on fhirpathpy's nodes, whose `path` names the FHIR type of the value."""

    def boundary(_ctx: Any, inputs: list[Any]) -> list[Any]:
        results: list[Any] = []
        for item in inputs:
            fhir_type = getattr(item, "path", None)
            value = getattr(item, "data", item)
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float | Decimal):
                results.append(_decimal_boundary(Decimal(str(value)), high))
                continue
            typed = _TYPED_BOUNDARIES.get(fhir_type) if isinstance(fhir_type, str) else None
            text = str(value)
            if typed is None:  # a literal: its form tells its type
                typed = _time_boundary if _TIME.match(text) else _datetime_boundary if "T" in text else _date_boundary
            found = typed(text, high)
            if found is not None:
                results.append(found)
        return results

    return boundary


invocation_registry["lowBoundary"] = {"fn": _boundary(high=False), "arity": {0: []}}
invocation_registry["highBoundary"] = {"fn": _boundary(high=True), "arity": {0: []}}

USER_FUNCTIONS: dict[str, dict[str, Any]] = {
    "getResourceKey": {"fn": _resource_key, "arity": {0: []}},
    "getReferenceKey": {"fn": _reference_key, "arity": {0: [], 1: ["TypeSpecifier"]}},
    "join": {"fn": _join, "arity": {0: [], 1: ["String"]}},
}
_OPTIONS = {"userInvocationTable": USER_FUNCTIONS}


class EvaluationError(ValueError):
    """fhirpathpy failed on a value (a function given the wrong kind of input)."""


_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`")
_VARIABLE = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)")
BUILT_IN_VARIABLES = frozenset({"resource", "rootResource", "context", "ucum", "sct", "loinc", "rowIndex"})


def variables_used(expression: str) -> set[str]:
    """The `%names` an expression refers to (outside string literals)."""
    return set(_VARIABLE.findall(_STRING_LITERAL.sub("''", expression)))


class _Raising(ErrorListener):
    def syntaxError(self, recognizer: Any, symbol: Any, line: int, column: int, message: str, error: Any) -> None:  # noqa: N802
        raise ValueError(f"column {column + 1}: {message}")


def check_syntax(expression: str) -> None:
    """Raise ValueError where `expression` is not FHIRPath: fhirpathpy's parser recovers silently
    from syntax errors (`id.where(` runs as `id`), so the same grammar is run here with errors raised
    and the whole text consumed."""
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raising())
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(_Raising())
    parser.expression()
    if parser.getCurrentToken().type != Token.EOF:
        raise ValueError(f"unexpected '{parser.getCurrentToken().text}'")


class Path:
    """A compiled expression: `path(node, variables)` gives the result nodes `(value, FHIR type)`.

    Evaluated by a direct accessor where fastpath.py has one for the node's type, else by fhirpathpy,
    given the node with its type so that choice elements (`value.ofType(string)`) resolve inside a
    forEach too.
    """

    __slots__ = ("expression", "slow", "fast")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        wrapped = f"select({expression})" if "$this" in expression else expression  # fhirpathpy sets $this
        try:  # only inside functions: select() sets it to the node
            check_syntax(expression)
            self.slow = fhirpath_compile(wrapped, model=MODEL, options={**_OPTIONS, "returnRawData": True})
        except Exception as exc:  # noqa: BLE001 - fhirpathpy's parser raises bare exceptions
            raise ValueError(str(exc) or type(exc).__name__) from exc
        self.fast: dict[str, Fast | None] = {}

    def __call__(self, node: Node, variables: dict[str, Any]) -> list[Node]:
        value, node_type = node
        if node_type is not None:
            fast = self.fast.get(node_type, _UNKNOWN)
            if fast is _UNKNOWN:
                fast = self.fast[node_type] = fast_path(self.expression, node_type)
            if fast is not None:
                try:
                    return fast(node)
                except ValueError as exc:
                    raise EvaluationError(str(exc)) from exc
        start = (
            value
            if node_type is None or value.__class__ is not dict or "resourceType" in value
            else (ResourceNode.create_node(value, node_type))
        )
        try:
            result = self.slow(start, variables)
        except Exception as exc:  # noqa: BLE001 - fhirpathpy raises bare exceptions on values it cannot handle
            raise EvaluationError(str(exc) or type(exc).__name__) from exc
        return [_node(item) for item in result]


_UNKNOWN: Any = object()


def _node(item: Any) -> Node:
    """A fhirpathpy result as a node: its data and type (dates, times, quantities as their text)."""
    if isinstance(item, ResourceNode):
        return item.data, item.path if isinstance(item.path, str) else None
    if isinstance(item, FP_Type):
        return str(item), None
    return item, None


def compile_path(expression: str) -> Path:
    """The expression compiled; ValueError if it is not FHIRPath."""
    return Path(expression)
