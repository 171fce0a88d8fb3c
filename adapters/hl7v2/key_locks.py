"""Messages that create the same resource conditionally are written one after the other.

The engine's transaction looks up each conditional create (`ifNoneExist`) or conditional update
and then writes; two messages for one new patient arriving at once on two connections would
both find nothing and create two Patients, and every later result for that patient would fail
("the criteria match 2"). Within one process the pipeline therefore holds a lock per
conditional key while it writes. Striped locks (a fixed number, taken in order) need no
cleanup and cannot deadlock. Across processes the engine itself must guard these creates.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

STRIPES = 256


class KeyLocks:
    """A fixed set of locks; a key always maps to the same one."""

    def __init__(self, stripes: int = STRIPES) -> None:
        self._locks = [asyncio.Lock() for _ in range(stripes)]

    @asynccontextmanager
    async def holding(self, keys: Iterable[str]) -> AsyncIterator[None]:
        """Hold the locks of `keys` (each stripe once, in stripe order) for the block."""
        stripes = sorted({zlib.crc32(key.encode()) % len(self._locks) for key in keys})
        async with AsyncExitStack() as stack:
            for stripe in stripes:
                await stack.enter_async_context(self._locks[stripe])
            yield


def conditional_keys(bundle: dict[str, Any]) -> list[str]:
    """The search criteria of the Bundle's conditional creates and updates (`Type?query`)."""
    keys = []
    for entry in bundle.get("entry", []):
        request = entry.get("request") or {}
        url = str(request.get("url", ""))
        if request.get("ifNoneExist"):
            keys.append(f"{url}?{request['ifNoneExist']}")
        elif "?" in url:
            keys.append(url)
    return keys
