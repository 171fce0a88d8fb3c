"""Work stopped when its client goes away, so a search nobody waits for does not keep the database busy.

Starlette runs a handler to its end even after the client closed the connection. Here the work
runs as a task beside a watcher that waits for the ASGI `http.disconnect` message; when that
comes first, the task is cancelled. The driver then drops the connection of the query under
way, so no further query is sent. MongoDB (4.2 and later) stops a find or aggregate whose
client disconnected; SecantusDB finishes the one command in progress, at most until its
`maxTimeMS` (search/limits.py), and runs nothing after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextlib import suppress

from fastapi import Request
from starlette.responses import Response

CLIENT_CLOSED_REQUEST = 499
"""The status recorded (audit, logs) for a request whose client left before the answer: nginx's convention."""


async def _disconnected(request: Request) -> None:
    """Return once the client has closed the connection; the request body must have been read already."""
    while (await request.receive())["type"] != "http.disconnect":
        continue


async def unless_disconnected(request: Request, work: Awaitable[Response]) -> Response:
    """`work`'s response, or (its task cancelled) an empty 499 when the client disconnects first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        return Response(status_code=CLIENT_CLOSED_REQUEST)
    return task.result()
