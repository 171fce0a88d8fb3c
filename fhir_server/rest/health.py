"""Liveness (`/healthz`: the process can still serve) and readiness (`/readyz`: the database answers now).

A database away for a moment makes the server unready, not dead: the embedded one is restarted
by its supervisor and the driver reconnects. Only a database that has not answered for
`database_down_seconds` (30 s by default: the embedded database's restarts, after 0.5, 1, 2, 4,
8 s ..., have had about five tries by then) makes the server unhealthy, so that whatever watches
it (a process manager, an orchestrator's liveness probe) restarts it.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from ..errors import StorageUnavailable
from ..i18n import _
from ..storage.store import ResourceStore
from .context import store_of

router = APIRouter()


class DatabaseWatch:
    """Since when the database has not answered, from a ping every `every` seconds in the background; down
    for longer than `limit` seconds, the server is unhealthy."""

    def __init__(self, limit: float, every: float = 2.0) -> None:
        self.limit = limit
        self.every = every
        self.down_since: float | None = None

    async def run(self, store: ResourceStore) -> None:
        """Forever: ping the database and note when it stopped answering (or that it answers again)."""
        while True:
            asked_at = time.monotonic()
            try:
                await store.ping()
            except StorageUnavailable:
                if self.down_since is None:
                    self.down_since = asked_at
            else:
                self.down_since = None
            await asyncio.sleep(self.every)

    def down_for(self) -> float:
        """Seconds since the database last stopped answering; 0 while it answers."""
        return 0.0 if self.down_since is None else time.monotonic() - self.down_since


@router.get("/healthz", include_in_schema=False)
async def healthz(request: Request) -> Response:
    watch: DatabaseWatch | None = getattr(request.app.state, "database_watch", None)
    if watch is not None and (down := watch.down_for()) > watch.limit:
        reason = _("The database has not answered for {seconds} s.").format(seconds=int(down))
        return JSONResponse({"status": "unhealthy", "reason": reason}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Response:
    try:
        await store_of(request).ping()
    except StorageUnavailable as exc:
        return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
    return JSONResponse({"status": "ready"})
