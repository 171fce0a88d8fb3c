"""Reads by id, batched (batching.py): reads of one collection that queue while another is under way go as one find.

A find of several ids (`$in`) costs the embedded database and the driver a fraction of as many
finds: measured per document, four ids at once cost the database a third and the driver a fifth
of a find each. Under concurrent reads (an app loading a chart, a busy front desk) the reads that
wait for the one under way go together; a lone read goes at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from .batching import Batcher

MAX_BATCH_READS = 100
"""The most ids one batched find asks for."""

Document = dict[str, Any]


class PointReads:
    """Documents of one collection by `_id`, with only `fields`; `solo(key)` says a read must go alone."""

    def __init__(
        self, collection: AsyncCollection[Document], fields: Mapping[str, int], solo: Callable[[str], bool]
    ) -> None:
        self._collection = collection
        self._fields = fields
        self._batcher = Batcher(self._one, self._many, fits=lambda keys, key: len(keys) < MAX_BATCH_READS, solo=solo)

    async def get(self, key: str) -> Document | None:
        """The document whose `_id` is `key`, or None."""
        return await self._batcher.run(key)

    async def _one(self, key: str) -> Document | None:
        return await self._collection.find_one({"_id": key}, self._fields)

    async def _many(self, keys: list[str]) -> list[Document | None]:
        wanted = list(dict.fromkeys(keys))
        found = {doc["_id"]: doc async for doc in self._collection.find({"_id": {"$in": wanted}}, self._fields)}
        return [found.get(key) for key in keys]

    async def close(self) -> None:
        await self._batcher.close()
