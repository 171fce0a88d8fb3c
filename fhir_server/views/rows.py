"""Rows of a view, one resource at a time: a generator, so memory stays flat whatever the row count.

The IG's algorithm (functional-model.md, "Processing algorithm"): a select makes, for each node
it iterates over (the resource, or each result of its forEach/forEachOrNull/repeat), the cross
product of its own columns, each nested select's rows and the rows of all its unionAll branches
one after the other. An empty forEach gives no rows (and drops its parent's row); an empty
forEachOrNull gives one row of nulls. `%rowIndex` is the index of the node in its forEach or
repeat (0 at the top, and inherited by a select that does not iterate).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import product
from typing import Any

from ..i18n import _
from .definition import Select, View, ViewRuntimeError
from .fastpath import Node
from .fhirpath import Evaluate, EvaluationError

Row = dict[str, Any]
_NOTHING: Node = (None, None)
"""What the columns of an empty forEachOrNull are evaluated on."""


def _evaluate(path: Evaluate, node: Node, variables: dict[str, Any], location: str) -> list[Node]:
    try:
        return path(node, variables)
    except EvaluationError as exc:
        raise ViewRuntimeError(
            _("The expression could not be evaluated on a resource: {reason}").format(reason=str(exc)[:200]),
            expression=location,
        ) from exc


def _descendants(node: Node, select: Select, variables: dict[str, Any]) -> Iterator[Node]:
    """`repeat`: every node reached by one or more steps of its paths, depth first, in document order."""
    for path in select.repeat:
        for child in _evaluate(path, node, variables, f"{select.location}.repeat"):
            yield child
            yield from _descendants(child, select, variables)


def _select_rows(select: Select, node: Node, variables: dict[str, Any], index: int) -> Iterator[Row]:
    if select.for_each is None and not select.repeat:
        yield from _node_rows(select, node, variables, index)
        return
    if select.for_each is not None:
        items: Iterable[Node] = _evaluate(select.for_each, node, variables, f"{select.location}.forEach")
    else:
        items = _descendants(node, select, variables)
    empty = True
    for position, item in enumerate(items):
        empty = False
        yield from _node_rows(select, item, variables, position)
    if empty and select.or_null:  # one row of nulls, but for its own columns on nothing (%rowIndex is 0)
        yield {**dict.fromkeys(select.names), **_columns(select, _NOTHING, {**variables, "rowIndex": 0})}


def _node_rows(select: Select, node: Node, variables: dict[str, Any], index: int) -> Iterator[Row]:
    variables = {**variables, "rowIndex": index}
    parts: list[list[Row]] = [[_columns(select, node, variables)]]
    for nested in select.selects:
        parts.append(list(_select_rows(nested, node, variables, index)))
    if select.union:
        parts.append([row for branch in select.union for row in _select_rows(branch, node, variables, index)])
    for combination in product(*parts):
        row: Row = {}
        for part in combination:
            row.update(part)
        yield row


def _columns(select: Select, node: Node, variables: dict[str, Any]) -> Row:
    own: Row = {}
    for compiled in select.columns:
        values = [value for value, _type in _evaluate(compiled.path, node, variables, f"{compiled.location}.path")]
        if compiled.column.collection:
            own[compiled.column.name] = values
        elif len(values) > 1:
            raise ViewRuntimeError(
                _("The column '{name}' gives several values; set 'collection' to true to keep them all.").format(
                    name=compiled.column.name
                ),
                expression=f"{compiled.location}.path",
            )
        else:
            own[compiled.column.name] = values[0] if values else None
    return own


def _kept(view: View, root: Node, variables: dict[str, Any]) -> bool:
    for path, location in view.where:
        result = [value for value, _type in _evaluate(path, root, variables, location)]
        if not result:
            return False
        if len(result) > 1 or not isinstance(result[0], bool):
            raise ViewRuntimeError(_("A 'where' path must give true, false or nothing."), expression=location)
        if not result[0]:
            return False
    return True


def compiled_rows(view: View, resources: Iterable[dict[str, Any]]) -> Iterator[Row]:
    """The rows of `view` over the resources of its type among `resources`, keyed by column in column order."""
    names = [column.name for column in view.columns]
    for resource in resources:
        if resource.get("resourceType") != view.resource:
            continue
        variables = {**view.constants, "resource": resource, "rootResource": resource}
        root = (resource, view.resource)
        if not _kept(view, root, variables):
            continue
        for row in _select_rows(view.select, root, variables, 0):
            yield {name: row.get(name) for name in names}
