"""The reports administrators stored as SQLQuery Libraries (library.py), read through the engine."""

from __future__ import annotations

import logging

from ..auth.policy import AccessPolicy
from ..engine.search import search_type
from ..errors import FhirError
from ..search.registry import default_registry
from ..search.request import parse_search_request
from ..storage import ResourceStore
from .library import TYPE_CODE, TYPE_SYSTEM, parse_library
from .model import Report

logger = logging.getLogger(__name__)
MAX_STORED = 500

_READER = AccessPolicy.system("reports")


async def stored_reports(store: ResourceStore) -> list[Report]:
    """The reports stored as Libraries (not retired). One that no longer parses is left out and logged."""
    request = parse_search_request(
        "Library", [("type", f"{TYPE_SYSTEM}|{TYPE_CODE}"), ("_count", str(MAX_STORED)), ("_total", "none")],
        default_registry(), default_count=MAX_STORED, max_count=MAX_STORED, strict=True,
    )  # fmt: skip
    reports = []
    for record in (await search_type(store, _READER, request)).page.records:
        library = record.resource()
        if library.get("status") == "retired":
            continue
        try:
            reports.append(parse_library(library))
        except FhirError as exc:
            logger.warning("Stored report %s is not usable: %s", record.reference, exc)
    return reports
