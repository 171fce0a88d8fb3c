"""X12 control numbers (ISA13 interchange, GS06 group, ST02 set) that never repeat.

X12 5010: a receiver (a clearinghouse) rejects an interchange whose ISA13 it has seen from the
sender before. One counter document per series (inserted once) is advanced with `$inc` in a single
atomic `find_one_and_update`, so two server processes (or a CLI run beside the server) never draw the
same number. ISA13 has 9 digits: the series would wrap after 999,999,999 files, which is refused
instead of repeating.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError

from .mongo import mongo_errors

LIMIT = 999_999_999
"""The largest number ISA13 (N0 9/9) and GS06 (N0 1/9) can carry."""


class ControlNumbersExhausted(Exception):
    """A series reached LIMIT: a new sender id (ISA06) is needed rather than a repeated number."""


class MongoX12ControlNumbers:
    """The `x12_control_numbers` collection: `{_id: series, last: n}`."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], database: str) -> None:
        self._counters = client[database]["x12_control_numbers"]

    async def draw(self, series: str, count: int = 1) -> range:
        """`count` consecutive numbers of `series` never drawn before (by any process)."""
        async with mongo_errors("x12_control_numbers"):
            counter = await self._advance(series, count)
            if counter is None:  # a new series: create it once (an upsert racing another one may lose the $inc)
                with suppress(DuplicateKeyError):
                    await self._counters.insert_one({"_id": series, "last": 0})
                counter = await self._advance(series, count)
        last = int((counter or {})["last"])
        if last > LIMIT:
            raise ControlNumbersExhausted(series)
        return range(last - count + 1, last + 1)

    async def _advance(self, series: str, count: int) -> dict[str, Any] | None:
        return await self._counters.find_one_and_update(
            {"_id": series}, {"$inc": {"last": count}}, return_document=ReturnDocument.AFTER
        )
