"""Whether a result's order is known here: a ServiceRequest with that placer or filler identifier.

The mapper is pure and synchronous and asks `order_exists(system, value)`; an unknown order gets
a review Task ("unsolicited result"). The pipeline maps once knowing nothing, looks up through
the engine the identifiers the mapper asked about, and maps again when one of them is a real
order: one the server holds that is not itself a placeholder made for an unsolicited result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fhir_server.engine import search_type
from fhir_server.search.registry import default_registry
from fhir_server.search.request import parse_search_request
from fhir_server.storage import ResourceStore

from .access import HL7_POLICY
from .mapping.bundle import escape_token
from .mapping.results import TAG_SYSTEM, UNSOLICITED_TAG


@dataclass
class KnownOrders:
    """The `order_exists` of one mapping: answers from `known` and remembers what it was asked."""

    known: set[tuple[str, str]] = field(default_factory=set)
    asked: set[tuple[str, str]] = field(default_factory=set)

    def __call__(self, system: str, value: str) -> bool:
        self.asked.add((system, value))
        return (system, value) in self.known


async def find_known_orders(store: ResourceStore, identifiers: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The identifiers among `identifiers` that name a ServiceRequest other than an unsolicited placeholder."""
    known = set()
    for system, value in identifiers:
        query = [
            ("identifier", f"{escape_token(system)}|{escape_token(value)}"),
            ("_tag:not", f"{TAG_SYSTEM}|{UNSOLICITED_TAG['code']}"),
            ("_count", "1"),
            ("_total", "none"),
        ]
        request = parse_search_request(
            "ServiceRequest", query, default_registry(), default_count=1, max_count=1, strict=True
        )
        if (await search_type(store, HL7_POLICY, request)).page.records:
            known.add((system, value))
    return known
