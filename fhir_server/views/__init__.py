"""SQL on FHIR v2 views (https://sql-on-fhir.org/ig/latest/): the engine and its public API.

- `validate_view(view)`: InvalidView (400, the element named) for a view that breaks the IG's invariants.
- `columns(view)`: the view's columns (name, type, collection) in row order.
- `view_rows(view, resources)`: the rows over an iterable of resources, as a generator.
- `run_view(store, policy, view, *, since, limit, patients)`: the rows over the stored resources
  the caller may read (run.py), as an async generator.

The modules: definition.py (checking and compiling a view), fhirpath.py (fhirpathpy and the
functions the IG adds), fastpath.py (direct accessors for plain paths), rows.py (the IG's row
algorithm), run.py (over the store), formats.py (json, ndjson, csv, parquet), carrier.py (stored
views are Libraries), rules.py (their write rule), parameters.py, operations.py
(`$viewdefinition-run`), export.py, export_routes.py and duties.py (`$viewdefinition-export`).

The official test suite (134 cases, tests/views/sof_suite/) passes in full, with no case left out:
tests/views/test_sof_suite.py runs each through the fast paths and through fhirpathpy alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .definition import Column, InvalidView, ViewRuntimeError, compile_view
from .rows import compiled_rows
from .run import run_view


def validate_view(view: dict[str, Any]) -> None:
    """Raise InvalidView (a FhirError, 400) naming the element when `view` breaks an invariant of the IG."""
    compile_view(view)


def columns(view: dict[str, Any]) -> list[Column]:
    """The columns of the rows of `view`, in order (InvalidView if the view is not valid)."""
    return list(compile_view(view).columns)


def view_rows(view: dict[str, Any], resources: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The rows of `view` over `resources` (others than the view's type are skipped), lazily.

    The view is checked first (InvalidView); a resource the view cannot be applied to raises
    ViewRuntimeError (422) when its rows are reached.
    """
    return compiled_rows(compile_view(view), resources)


__all__ = ["Column", "InvalidView", "ViewRuntimeError", "columns", "run_view", "validate_view", "view_rows"]
