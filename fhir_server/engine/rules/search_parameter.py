"""The first write rule: a SearchParameter is checked and registered before it is stored.

A SearchParameter this server cannot use (unknown base or type, bad expression, a built-in code
redefined) is refused with 400. A usable one is registered in this worker's search registry before
the commit, so the worker that accepted it can search on it at once (the others pick it up from the
database, engine/search_parameters.py). It runs after the access checks, so a write refused with 403
registers nothing.
"""

from __future__ import annotations

from ..search_parameters import admit_search_parameter
from .registry import WriteContext, write_rule


@write_rule("search-parameter-usable", ["SearchParameter"], ["create", "update", "patch"])
async def search_parameter_usable(context: WriteContext) -> None:
    """Refuse a SearchParameter the search registry cannot use; register a usable one."""
    resource = context.new
    if resource is not None:
        admit_search_parameter(resource)
