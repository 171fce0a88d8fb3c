"""Local lab codes → LOINC (or any standard code) through the ConceptMaps stored on this server.

Naming: a code's source system is the system its Coding gets in FHIR, so what an admin sees on
an Observation is what a ConceptMap's `group.source` names. CWE-3 with a standard name (LN,
SCT, HL7nnnn ...) is that standard's URI; any other name (L, 99LAB, a lab's own) is
`urn:hl7v2:coding-system:<name>`. A code without CWE-3 is local to whoever sent it: it is
looked up under `urn:hl7v2:coding-system:<MSH-3>` (the sending application). Only local codes
are translated: a code of a standard system is left as the lab sent it. Which equivalences
count: `terminology.translation`.

The mapping is pure and synchronous, so the pipeline maps with what is cached; when the message
named a system that is not cached (or was cached more than `ttl` seconds ago) it loads that
system's maps (one `ConceptMap?source-system=` search through the engine) and maps again. So a
changed ConceptMap takes effect within `ttl` seconds in every server process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fhir_server.engine import search_type
from fhir_server.errors import FhirError
from fhir_server.search.registry import default_registry
from fhir_server.search.request import parse_search_request
from fhir_server.storage import ResourceStore
from terminology.translation import Coding, translations

from .access import HL7_POLICY
from .mapping.datatypes import LOCAL_SYSTEM_PREFIX, local_system

log = logging.getLogger(__name__)

DEFAULT_TTL = 15.0
MAX_MAPS = 1000
"""ConceptMaps read for one source system; more are ignored (and logged)."""


@dataclass
class Translator:
    """The `translate(system, code)` hook for one mapping run; remembers systems it had no fresh maps for."""

    cached: dict[str, dict[str, Coding]]
    sender_system: str
    missing: set[str] = field(default_factory=set)

    def __call__(self, system: str, code: str) -> Coding | None:
        if system and not system.startswith(LOCAL_SYSTEM_PREFIX):
            return None
        source = system or self.sender_system
        table = self.cached.get(source)
        if table is None:
            self.missing.add(source)
            return None
        return table.get(code)


class ConceptMapCache:
    """Translations per source system, read from stored ConceptMaps and kept `ttl` seconds."""

    def __init__(
        self, store: ResourceStore, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store, self.ttl, self.clock = store, ttl, clock
        self._tables: dict[str, tuple[float, dict[str, Coding]]] = {}

    def translator(self, sending_app: str) -> Translator:
        """A hook over the fresh tables; codes without a system are looked up as the sender's local codes."""
        oldest = self.clock() - self.ttl
        fresh = {system: table for system, (loaded, table) in self._tables.items() if loaded > oldest}
        return Translator(fresh, local_system(sending_app or "unknown"))

    async def load(self, systems: Iterable[str]) -> None:
        """Read the ConceptMaps of these source systems now; on a database error the old tables stay."""
        for system in systems:
            try:
                maps = await self._concept_maps(system)
            except FhirError as exc:
                log.warning("hl7 concept maps not loaded", extra={"system": system, "problem": str(exc)})
                continue
            self._tables[system] = (self.clock(), translations(maps, system))

    async def _concept_maps(self, system: str) -> list[dict[str, object]]:
        query = [("source-system", system), ("_count", str(MAX_MAPS)), ("_total", "none")]
        request = parse_search_request(
            "ConceptMap", query, default_registry(), default_count=MAX_MAPS, max_count=MAX_MAPS, strict=True
        )
        result = await search_type(self.store, HL7_POLICY, request)
        if result.page.next_cursor:
            log.warning("hl7 concept maps beyond the limit ignored", extra={"system": system, "limit": MAX_MAPS})
        return [record.resource() for record in result.page.records]
