"""The reports administrators stored as SQLQuery Libraries (library.py), and the stored views they
name, read through the engine."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..auth.policy import AccessPolicy
from ..engine.search import search_type
from ..errors import FhirError
from ..search.registry import default_registry
from ..search.request import parse_search_request
from ..storage import ResourceStore, StoredResource
from ..views.carrier import library_view
from .library import TYPE_CODE, TYPE_SYSTEM, parse_library, view_references
from .model import Report

logger = logging.getLogger(__name__)
MAX_STORED = 500
_READER = AccessPolicy.system("reports")


async def _libraries(store: ResourceStore, criteria: list[tuple[str, str]], limit: int) -> list[StoredResource]:
    request = parse_search_request(
        "Library", [*criteria, ("_count", str(limit)), ("_total", "none")], default_registry(),
        default_count=limit, max_count=limit, strict=True,
    )  # fmt: skip
    return (await search_type(store, _READER, request)).page.records


async def stored_views(store: ResourceStore, references: Iterable[str]) -> dict[str, dict[str, object]]:
    """The stored views found for `references` (`Library/{id}`, `ViewDefinition/{id}` or a view's url)."""
    found: dict[str, dict[str, object]] = {}
    for reference in set(references):
        kind, _sep, key = reference.partition("/")
        by_id = kind in ("Library", "ViewDefinition") and key and "/" not in key
        records = await _libraries(store, [("_id", key)] if by_id else [("url", reference)], 2)
        if len(records) == 1:
            try:
                found[reference] = library_view(records[0].resource())
            except FhirError:
                continue
    return found


async def report_of(store: ResourceStore, library: dict[str, object]) -> Report:
    """The report a SQLQuery Library stands for, its stored views read now; InvalidRequest if it would not run."""
    return parse_library(library, await stored_views(store, view_references(library).values()))


async def stored_reports(store: ResourceStore) -> list[Report]:
    """The reports stored as Libraries (not retired). One that no longer parses is left out and logged."""
    reports = []
    for record in await _libraries(store, [("type", f"{TYPE_SYSTEM}|{TYPE_CODE}")], MAX_STORED):
        library = record.resource()
        if library.get("status") == "retired":
            continue
        try:
            reports.append(await report_of(store, library))
        except FhirError as exc:
            logger.warning("Stored report %s is not usable: %s", record.reference, exc)
    return reports
