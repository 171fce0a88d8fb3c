"""Query filters rewritten with fewer logical operators, for the same documents.

SecantusDB looks a document up by `_id` (an index) only when the filter has no top-level
`$and`, `$nor` or `$or`; with one of them it scans the whole collection, even under
`_id: {$in: [one id]}` (measured: 50 ms instead of 1.5 ms on 3,000 documents). The search
compiler and the access rules AND their clauses under `$and` and negate with `$nor`, so a
current-resource filter is flattened before it is sent: `$and` clauses become top-level
fields, a `$nor` of single-field operator clauses becomes `$not` on those fields, and two
operator conditions on one field merge when their operators differ. What cannot be moved
without changing the meaning stays under `$and`. MongoDB plans either form the same way.
"""

from __future__ import annotations

from typing import Any


def _operators(condition: Any) -> bool:
    """Is `condition` an operator expression such as `{"$in": [...]}` (not a value to equal)?"""
    return isinstance(condition, dict) and bool(condition) and all(key.startswith("$") for key in condition)


def _negatable(clause: dict[str, Any]) -> bool:
    if len(clause) != 1:
        return False
    ((field, condition),) = clause.items()
    return not field.startswith("$") and _operators(condition)


def flatten(flt: dict[str, Any]) -> dict[str, Any]:
    """`flt` with its `$and` and simple `$nor` clauses lifted to top-level fields where that is exact."""
    flat: dict[str, Any] = {}
    kept: list[dict[str, Any]] = []

    def put(field: str, condition: Any) -> None:
        if field not in flat and not field.startswith("$"):
            flat[field] = condition
            return
        present = flat.get(field)
        if (
            isinstance(present, dict)
            and _operators(present)
            and _operators(condition)
            and not present.keys() & condition.keys()
        ):
            flat[field] = {**present, **condition}
        else:
            kept.append({field: condition})

    def take(clause: dict[str, Any]) -> None:
        for field, condition in clause.items():
            if field == "$and":
                for part in condition:
                    take(part)
            elif field == "$nor" and all(_negatable(part) for part in condition):
                for part in condition:
                    ((negated, test),) = part.items()
                    put(negated, {"$not": test})
            else:
                put(field, condition)

    take(flt)
    if kept:
        flat["$and"] = kept
    return flat
