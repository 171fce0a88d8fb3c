"""What storage hands back: one stored version of a resource."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..fhir_json import loads


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of one resource: the current copy, or an entry of its history.

    `body` is the resource as FHIR JSON bytes (with `meta` set), None for a deletion.
    Keeping the bytes lets a read go from the database to the wire without re-encoding.
    """

    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    deleted: bool
    body: bytes | None
    method: str = "PUT"

    @property
    def reference(self) -> str:
        return f"{self.resource_type}/{self.id}"

    def resource(self) -> dict[str, Any]:
        """The resource as a dict (empty for a deletion), its decimals exact (`FhirDecimal`)."""
        return loads(self.body) if self.body else {}


def now() -> datetime:
    """The current instant at the millisecond precision the database keeps."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
