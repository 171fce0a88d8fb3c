"""A ViewDefinition checked against the IG's invariants and compiled once into a plan of selects.

https://sql-on-fhir.org/ig/latest/StructureDefinition-ViewDefinition.html. Each problem is an
InvalidView (a 400 OperationOutcome) naming the element at fault as a FHIRPath location such as
`ViewDefinition.select[0].column[1].path`: a missing or unknown `resource`, a column without a
name or path, a name that is not a database identifier, a name used twice, an expression that
does not parse, a `%constant` that is not defined, a constant without exactly one value, more
than one of forEach/forEachOrNull/repeat on a select, unionAll branches whose columns differ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import profiles

from ..errors import InvalidRequest
from ..i18n import _
from .fhirpath import BUILT_IN_VARIABLES, Evaluate, compile_path, variables_used

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
ROOT = "ViewDefinition"


class InvalidView(InvalidRequest):
    """A ViewDefinition that breaks the IG's invariants (400, the element named)."""


class ViewRuntimeError(InvalidView):
    """A view that is valid but cannot be applied to some resource (a column `collection` false
    given several values, a `where` that is not boolean): 422 Unprocessable-like, raised while rows are made."""

    status = 422
    issue_code = "processing"


@dataclass(frozen=True)
class Column:
    """One column of a view's rows: its name, FHIR type (None if the view gives none) and whether it holds a list."""

    name: str
    type: str | None
    collection: bool


@dataclass(frozen=True)
class CompiledColumn:
    column: Column
    path: Evaluate
    location: str


@dataclass(frozen=True)
class Select:
    """A compiled select: its columns, nested selects, unionAll branches and iteration (one of the three)."""

    columns: tuple[CompiledColumn, ...]
    selects: tuple[Select, ...]
    union: tuple[Select, ...]
    for_each: Evaluate | None
    or_null: bool
    repeat: tuple[Evaluate, ...]
    names: tuple[str, ...]
    """Every column name this select yields, in order."""
    location: str


@dataclass(frozen=True)
class View:
    """A compiled view: the resource type it reads, its constants, `where` filters and top select."""

    resource: str
    constants: dict[str, Any]
    where: tuple[tuple[Evaluate, str], ...]
    select: Select
    columns: tuple[Column, ...]


def _invalid(text: str, location: str) -> InvalidView:
    return InvalidView(text, expression=location)


def _constants(view: dict[str, Any]) -> dict[str, Any]:
    raw = view.get("constant", [])
    if not isinstance(raw, list):
        raise _invalid(_("'constant' must be a list."), f"{ROOT}.constant")
    constants: dict[str, Any] = {}
    for index, constant in enumerate(raw):
        location = f"{ROOT}.constant[{index}]"
        if not isinstance(constant, dict):
            raise _invalid(_("A constant must be an object."), location)
        name = constant.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _invalid(_("A constant needs a 'name' made of letters, digits and '_'."), f"{location}.name")
        values = [key for key in constant if key.startswith("value")]
        if len(values) != 1:
            raise _invalid(
                _("The constant '{name}' must have exactly one value[x].").format(name=name), f"{location}.value[x]"
            )
        if name in constants:
            raise _invalid(_("The constant '{name}' is defined twice.").format(name=name), f"{location}.name")
        constants[name] = constant[values[0]]
    return constants


class _Compiler:
    def __init__(self, constants: dict[str, Any]) -> None:
        self.known = BUILT_IN_VARIABLES | set(constants)

    def path(self, raw: Any, location: str) -> Evaluate:
        if not isinstance(raw, str) or not raw.strip():
            raise _invalid(_("A FHIRPath expression (a non-empty string) is needed here."), location)
        unknown = sorted(variables_used(raw) - self.known)
        if unknown:
            raise _invalid(
                _("The expression uses %{name}, which is not a constant of the view.").format(name=unknown[0]),
                location,
            )
        try:
            return compile_path(raw)
        except ValueError as exc:
            raise _invalid(
                _("'{expression}' is not a valid FHIRPath expression: {reason}").format(
                    expression=raw[:200], reason=str(exc)[:200]
                ),
                location,
            ) from exc

    def column(self, raw: Any, location: str) -> CompiledColumn:
        if not isinstance(raw, dict):
            raise _invalid(_("A column must be an object."), location)
        name = raw.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _invalid(
                _("A column needs a 'name' that starts with a letter and has only letters, digits and '_'."),
                f"{location}.name",
            )
        type_ = raw.get("type")
        if type_ is not None and not isinstance(type_, str):
            raise _invalid(_("A column's 'type' must be a FHIR type code."), f"{location}.type")
        collection = raw.get("collection", False)
        if not isinstance(collection, bool):
            raise _invalid(_("A column's 'collection' must be true or false."), f"{location}.collection")
        return CompiledColumn(Column(name, type_, collection), self.path(raw.get("path"), f"{location}.path"), location)

    def select(self, raw: Any, location: str) -> Select:
        if not isinstance(raw, dict):
            raise _invalid(_("A select must be an object."), location)
        iterations = [key for key in ("forEach", "forEachOrNull", "repeat") if key in raw]
        if len(iterations) > 1:
            raise _invalid(
                _("A select may have only one of forEach, forEachOrNull and repeat."), f"{location}.{iterations[1]}"
            )
        columns = tuple(self.column(c, f"{location}.column[{i}]") for i, c in enumerate(_list(raw, "column", location)))
        selects = tuple(self.select(s, f"{location}.select[{i}]") for i, s in enumerate(_list(raw, "select", location)))
        union = tuple(
            self.select(s, f"{location}.unionAll[{i}]") for i, s in enumerate(_list(raw, "unionAll", location))
        )
        for index, branch in enumerate(union[1:], start=1):
            if branch.names != union[0].names:
                raise _invalid(
                    _("Every unionAll branch must have the same columns in the same order ({expected}).").format(
                        expected=", ".join(union[0].names)
                    ),
                    f"{location}.unionAll[{index}]",
                )
        for_each_key = "forEach" if "forEach" in raw else "forEachOrNull" if "forEachOrNull" in raw else None
        for_each = self.path(raw[for_each_key], f"{location}.{for_each_key}") if for_each_key else None
        repeat: tuple[Evaluate, ...] = ()
        if "repeat" in raw:
            paths = raw["repeat"]
            if not isinstance(paths, list) or not paths:
                raise _invalid(_("'repeat' must be a non-empty list of FHIRPath expressions."), f"{location}.repeat")
            repeat = tuple(self.path(p, f"{location}.repeat[{i}]") for i, p in enumerate(paths))
        names = (
            tuple(c.column.name for c in columns)
            + tuple(n for s in selects for n in s.names)
            + (union[0].names if union else ())
        )
        return Select(columns, selects, union, for_each, for_each_key == "forEachOrNull", repeat, names, location)


def _list(raw: dict[str, Any], key: str, location: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise _invalid(_("'{element}' must be a list.").format(element=key), f"{location}.{key}")
    return value


def _columns_of(select: Select) -> list[CompiledColumn]:
    found = list(select.columns)
    for nested in select.selects:
        found += _columns_of(nested)
    if select.union:
        found += _columns_of(select.union[0])
    return found


def compile_view(view: Any) -> View:
    """The view checked and compiled; InvalidView naming the element for the first problem found."""
    if not isinstance(view, dict):
        raise _invalid(_("A ViewDefinition must be a JSON object."), ROOT)
    resource = view.get("resource")
    if not isinstance(resource, str) or not resource:
        raise _invalid(_("The view must name the resource type it reads in 'resource'."), f"{ROOT}.resource")
    if not profiles.is_known_type(resource):
        raise _invalid(
            _("'{type}' is not a FHIR R4 resource type this server knows.").format(type=resource[:80]),
            f"{ROOT}.resource",
        )
    constants = _constants(view)
    compiler = _Compiler(constants)
    selects = view.get("select")
    if not isinstance(selects, list) or not selects:
        raise _invalid(_("The view needs at least one select."), f"{ROOT}.select")
    top = compiler.select({"select": selects}, ROOT)
    where_raw = _list(view, "where", ROOT)
    where = []
    for index, item in enumerate(where_raw):
        location = f"{ROOT}.where[{index}].path"
        where.append((compiler.path(item.get("path") if isinstance(item, dict) else None, location), location))
    columns = _columns_of(top)
    seen: set[str] = set()
    for compiled in columns:
        name = compiled.column.name
        if name in seen:
            raise _invalid(
                _("The column name '{name}' is used more than once.").format(name=name), f"{compiled.location}.name"
            )
        seen.add(name)
    return View(resource, constants, tuple(where), top, tuple(c.column for c in columns))
