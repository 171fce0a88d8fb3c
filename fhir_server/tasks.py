"""Stopping background tasks: one implementation for the server's lifespan and `fhir-server mllp`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


async def stop_tasks(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel `tasks` and wait for them, cancelling again any that went on.

    On Python 3.11 a cancellation that arrives as an `asyncio.wait_for` inside the driver
    completes is lost (the task goes on as if nothing happened): this once left shutdown
    waiting forever on a job worker.
    """
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=1.0)
    await asyncio.gather(*tasks, return_exceptions=True)
