"""What engine interactions return; REST turns these into responses."""

from __future__ import annotations

from dataclasses import dataclass

from ..storage import StoredResource


@dataclass(frozen=True)
class WriteResult:
    """The version a create, update, patch or delete produced (`created`: there was none before)."""

    record: StoredResource
    created: bool


@dataclass(frozen=True)
class Page:
    """One page of a search or history: the records, the total and how to get the next page."""

    records: list[StoredResource]
    total: int | None
    next_cursor: str | None
