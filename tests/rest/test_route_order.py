"""Which route answers a path does not depend on the order the routes are listed in.

Only the generated OperationDefinitions keep their place (before the read of stored resources);
every other FHIR route is shuffled, and each kind of path must still reach the same route (the
path convertors of rest/paths.py).
"""

from __future__ import annotations

import random

import pytest
from starlette.routing import BaseRoute, Match

from fhir_server.rest import fhir_router

PATHS = [
    ("GET", "/Patient/123", "read"),
    ("GET", "/Patient/bad$id", "read"),
    ("GET", "/Patient/$everything", "operation-type"),
    ("POST", "/Patient/123/$everything", "operation-instance"),
    ("GET", "/Group/g1/$export", "operation-instance"),
    ("GET", "/$export", "operation-system"),
    ("POST", "/$import", "operation-system"),
    ("POST", "/Observation/$reindex", "operation-type"),
    ("GET", "/Patient/$nothing", "operation-type"),
    ("GET", "/$export-poll/job1", "export-poll"),
    ("DELETE", "/$export-poll/job1", "export-cancel"),
    ("GET", "/$export-file/job1/Patient.ndjson", "export-file"),
    ("GET", "/$import-poll/job1", "import-poll"),
    ("GET", "/_jobs/job1", "job-status"),
    ("GET", "/_history", "history-system"),
    ("GET", "/Patient/_history", "history-type"),
    ("GET", "/Patient/123/_history", "history-instance"),
    ("GET", "/Patient/123/_history/2", "vread"),
    ("GET", "/Patient", "search-type"),
    ("POST", "/Patient/_search", "search-type-post"),
    ("GET", "/Patient/123/Observation", "search-compartment"),
    ("POST", "/Patient", "create"),
    ("PUT", "/Patient/123", "update"),
    ("PATCH", "/Patient/123", "patch"),
    ("DELETE", "/Patient/123", "delete"),
    ("PUT", "/Patient", "conditional-update"),
    ("DELETE", "/Patient", "conditional-delete"),
    ("GET", "/metadata", "capabilities"),
    ("GET", "/Patient/metadata", "read"),
    ("PUT", "/Patient/metadata", "update"),
    ("GET", "/metadata/_history", "history-type"),
    ("GET", "/OperationDefinition/Patient-everything", "operation-definition"),
    ("PUT", "/OperationDefinition/export", "operation-definition"),
    ("GET", "/OperationDefinition/my-own", "read"),
    ("GET", "/", "search-system"),
    ("POST", "", "bundle"),
]
PINNED = ("operation-definition",)


def _answering(routes: list[BaseRoute], method: str, path: str) -> str | None:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for route in routes:
        match, _child = route.matches(scope)
        if match == Match.FULL:
            return getattr(route, "name", None)
    return None


@pytest.mark.parametrize("seed", range(25))
def test_each_path_reaches_its_route_in_any_order(seed: int) -> None:
    routes = list(fhir_router().routes)
    pinned = [route for route in routes if getattr(route, "name", None) in PINNED]
    others = [route for route in routes if route not in pinned]
    random.Random(seed).shuffle(others)
    shuffled = pinned + others
    answered = {(method, path): _answering(shuffled, method, path) for method, path, _name in PATHS}
    assert answered == {(method, path): name for method, path, name in PATHS}


def test_an_operation_name_is_never_an_id_or_a_type() -> None:
    """No route but the operation routes full-matches a `$` segment where a type or id would be."""
    routes = [r for r in fhir_router().routes if not getattr(r, "name", "").startswith("operation-")]
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        for path in ("/$foo", "/Patient/$foo", "/Patient/1/$foo"):
            assert _answering(routes, method, path) is None, (method, path)
