"""What a report is, read from a shipped data file or a posted Library (library.py) into one shape.

A shipped report is `shipped/<name>.json` plus `shipped/<name>.sql`:

    {"name": "encounters-by-month", "title": {"en": "...", "es": "...", "de": "..."},
     "roles": ["admin", "physician"],
     "parameters": [{"name": "start", "type": "date", "required": true}, ...],
     "chart": {"kind": "bar", "x": "month", "y": ["encounters"]},
     "views": {"encounters": { ...a ViewDefinition... }}}

Each key of `views` is the table name the SQL reads; each parameter is a `$name` in the SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..errors import InvalidRequest
from ..i18n import _

PARAMETER_TYPES = ("date", "string", "integer")
CHART_KINDS = ("bar", "line")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
TABLE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class ReportParameter:
    """A value the caller gives (`$name` in the SQL): a date, a string or an integer."""

    name: str
    type: str
    required: bool

    def convert(self, raw: str) -> date | str | int:
        """The typed value of `raw`, or InvalidRequest naming the parameter."""
        try:
            if self.type == "date":
                return date.fromisoformat(raw)
            if self.type == "integer":
                return int(raw)
        except ValueError as exc:
            raise InvalidRequest(
                _("Parameter '{name}' must be a {type}; '{value}' is not one.").format(
                    name=self.name, type=self.type, value=raw[:40]),
                expression=self.name,
            ) from exc  # fmt: skip
        return raw


@dataclass(frozen=True)
class Chart:
    """How the rows are drawn: `kind` bar or line, `x` the category column, `y` the value columns."""

    kind: str
    x: str
    y: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """One report: its views (table name → ViewDefinition), its SQL, and what people see of it."""

    name: str
    titles: Mapping[str, str]
    roles: tuple[str, ...]
    parameters: tuple[ReportParameter, ...]
    views: Mapping[str, Mapping[str, Any]]
    sql: str
    chart: Chart | None = None
    source: str | None = None
    """"Library/<id>" for a report an administrator stored; None for a shipped one."""

    def title(self, language: str) -> str:
        return self.titles.get(language) or self.titles.get("en") or next(iter(self.titles.values()), self.name)

    @property
    def resource_types(self) -> tuple[str, ...]:
        """The resource types its views read, each once."""
        return tuple(dict.fromkeys(str(view.get("resource")) for view in self.views.values()))


def _bad(text: str, where: str) -> InvalidRequest:
    return InvalidRequest(text, expression=where)


def parse_parameters(items: Any, where: str) -> tuple[ReportParameter, ...]:
    if not isinstance(items, list):
        raise _bad(_("The report's parameters must be a list."), where)
    out: list[ReportParameter] = []
    for position, item in enumerate(items):
        here = f"{where}[{position}]"
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not TABLE.match(name):
            raise _bad(_("A report parameter needs a name of letters, digits and '_'."), here)
        if item.get("type") not in PARAMETER_TYPES:
            raise _bad(_("A report parameter's type must be one of: {types}.").format(
                types=", ".join(PARAMETER_TYPES)), here)  # fmt: skip
        out.append(ReportParameter(name, item["type"], bool(item.get("required", False))))
    if len({p.name for p in out}) != len(out):
        raise _bad(_("The report's parameter names repeat."), where)
    return tuple(out)


def parse_chart(item: Any, where: str) -> Chart | None:
    if item is None:
        return None
    if not isinstance(item, dict) or item.get("kind") not in CHART_KINDS:
        raise _bad(_("A report chart's kind must be one of: {kinds}.").format(kinds=", ".join(CHART_KINDS)), where)
    x, y = item.get("x"), item.get("y")
    if not isinstance(x, str) or not isinstance(y, list) or not y or not all(isinstance(c, str) for c in y):
        raise _bad(_("A report chart names its category column (x) and at least one value column (y)."), where)
    return Chart(item["kind"], x, tuple(y))


def check_views(views: Any, where: str) -> dict[str, Mapping[str, Any]]:
    """The views by table name; each table name usable in SQL, each view a JSON object."""
    if not isinstance(views, dict) or not views:
        raise _bad(_("A report needs at least one view."), where)
    for table, view in views.items():
        if not TABLE.match(table):
            raise _bad(_("The table name '{name}' must be letters, digits and '_', starting with a letter.").format(
                name=table[:64]), where)  # fmt: skip
        if not isinstance(view, dict) or view.get("resourceType") != "ViewDefinition":
            raise _bad(_("The view '{name}' is not a ViewDefinition.").format(name=table), where)
    return dict(views)


def parse_report(data: Mapping[str, Any], sql: str) -> Report:
    """A Report from the shipped JSON shape (module docstring) and its SQL; InvalidRequest when malformed."""
    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise _bad(_("A report name is letters, digits, '_' and '-', starting with a letter."), "name")
    titles = data.get("title")
    if not isinstance(titles, dict) or not all(isinstance(t, str) for t in titles.values()) or not titles:
        raise _bad(_("A report needs a title."), "title")
    roles = data.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise _bad(_("A report names the roles that may run it."), "roles")
    return Report(
        name=name,
        titles=dict(titles),
        roles=tuple(roles),
        parameters=parse_parameters(data.get("parameters", []), "parameters"),
        views=check_views(data.get("views"), "views"),
        sql=sql,
        chart=parse_chart(data.get("chart"), "chart"),
    )
