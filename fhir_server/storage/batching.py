"""One database call at a time, and the calls that queue meanwhile go together as one: group commit, batched reads.

On the embedded database most of a command's cost is per command, not per document (dispatch,
snapshot, reply, and in the driver the round trip's tasks and futures): a find of four ids by `$in`
costs the database a third of four finds, a transaction of many creates a fraction of as many
transactions. So a `Batcher` runs one call at a time; calls that arrive while it runs wait, and
when it ends they run as one (`together`). A call that arrives when nothing runs goes at once, so a
lone client waits for nothing.

Each caller gets exactly the outcome its call would have had alone:
- A call `solo` says must go alone (too large, or bound to its caller's time limit) never waits.
- Calls are merged only while `fits` accepts them (size, or no overlap between two writes).
- A lone waiting call is handed the turn and runs `alone` in its own task and context.
- If a merged call fails for any reason, each member runs `alone` again in its own task and
  context (its language for error texts, its time limit), so it gets the error it would have had.
  `together` must leave nothing behind when it fails (one transaction, or only reads).
- A caller that is cancelled while it waits is left out of its group; one cancelled while its
  group runs is like one cancelled during its own call.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

Call = TypeVar("Call")
Result = TypeVar("Result")


class _Outcome(Enum):
    DONE = "done"
    TURN = "turn"
    """The caller runs its call itself, now, and starts the next group after it."""
    RETRY = "retry"
    """The caller's group failed, so nothing of it was done: the caller runs its call on its own."""


@dataclass(eq=False)
class _Waiting(Generic[Call]):
    call: Call
    decided: asyncio.Future[_Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    result: Any = None


class Batcher(Generic[Call, Result]):
    """Runs `alone(call)` for each call, or `together(calls)` (one result per call, in order) for the calls
    that queued while another ran.

    One run at a time goes through the batcher (its turn): a caller's own, or a merged group's.
    Whoever holds the turn hands it on when done (`_next`).
    """

    def __init__(
        self,
        alone: Callable[[Call], Awaitable[Result]],
        together: Callable[[list[Call]], Awaitable[Sequence[Result]]],
        *,
        fits: Callable[[list[Call], Call], bool],
        solo: Callable[[Call], bool] = lambda call: False,
    ) -> None:
        self._alone, self._together, self._fits, self._solo = alone, together, fits, solo
        self._queue: deque[_Waiting[Call]] = deque()
        self._busy = False
        self._groups: set[asyncio.Task[None]] = set()
        self._context = contextvars.copy_context()  # merged calls run in no caller's context

    async def run(self, call: Call) -> Result:
        """The result of `call`, run alone or in a group; raises what `alone(call)` would raise."""
        if self._solo(call):
            return await self._alone(call)
        if not self._busy:
            self._busy = True
        else:
            waiting = await self._wait(call)
            if waiting.decided.result() is _Outcome.DONE:
                return waiting.result
            if waiting.decided.result() is _Outcome.RETRY:
                return await self._alone(call)
        try:
            return await self._alone(call)
        finally:
            self._next()

    async def _wait(self, call: Call) -> _Waiting[Call]:
        waiting = _Waiting(call)
        self._queue.append(waiting)
        try:
            await waiting.decided
        except asyncio.CancelledError:
            if not waiting.decided.cancelled() and waiting.decided.result() is _Outcome.TURN:
                self._next()  # given the turn, but gone: hand it on
            raise
        return waiting

    def _next(self) -> None:
        """Hand the turn to what queued: one call runs itself, several run as one group."""
        group = self._take()
        if not group:
            self._busy = False
        elif len(group) == 1:
            group[0].decided.set_result(_Outcome.TURN)
        else:
            task = asyncio.create_task(self._run_group(group), context=self._context)
            self._groups.add(task)
            task.add_done_callback(self._groups.discard)

    def _take(self) -> list[_Waiting[Call]]:
        """The queued calls that run next: in order, skipping cancelled ones and ones that do not fit."""
        group: list[_Waiting[Call]] = []
        calls: list[Call] = []
        later: deque[_Waiting[Call]] = deque()
        while self._queue:
            waiting = self._queue.popleft()
            if waiting.decided.done():
                continue
            if calls and not self._fits(calls, waiting.call):
                later.append(waiting)
                continue
            group.append(waiting)
            calls.append(waiting.call)
        self._queue = later
        return group

    async def _run_group(self, group: list[_Waiting[Call]]) -> None:
        results: Sequence[Result] = ()
        try:
            results = await self._together([waiting.call for waiting in group])
            outcome = _Outcome.DONE
        except Exception:
            outcome = _Outcome.RETRY  # nothing was done: each runs on its own, in its own task
        except BaseException:  # cancelled (stopping): its callers end as if cancelled in their own call
            for waiting in group:
                waiting.decided.cancel()
            raise
        finally:
            self._next()
        for position, waiting in enumerate(group):
            if not waiting.decided.done():
                if outcome is _Outcome.DONE:
                    waiting.result = results[position]
                waiting.decided.set_result(outcome)

    async def close(self) -> None:
        """Wait for the merged calls under way."""
        if self._groups:
            await asyncio.gather(*self._groups, return_exceptions=True)
