"""Group commit: small writes that arrive while another commits wait for it, then commit together.

A transaction's fixed cost (dispatching its statements, the commit and its journal flush) is much
larger than the cost of its few documents: on the embedded database one create (resource, history
and audit event) commits at about 150 a second, while one transaction of a hundred such creates
stores about 445 resources a second. So while a commit is under way, the next small writes queue;
when it ends, those queued commit as one transaction, and each caller returns once that transaction
has committed (its write is then as durable as if it had committed alone).

Exactly the outcome a write would have had alone:
- Writes whose resources or condition locks overlap are never merged (the later one waits for
  the next group), so a merged transaction never fails on a race among its own members.
- If a merged transaction fails for any reason (a lost race with another process, a write refused
  by its guard, a duplicate key, the database going away), nothing of it was committed, and each
  member commits again on its own, in its own caller's task and context (its language for error
  texts, its time limit), so every caller gets the result and the error it would have had alone.
- A caller that is cancelled while its write waits is left out of the group; one cancelled while
  its group commits is like a caller cancelled during its own commit: the write may be stored.

Large writes (a transaction Bundle, an import batch) are already one transaction: they go alone.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from .store import ConditionLock, Linked, PendingWrite

MAX_GROUP_WRITES = 64
"""The most versions one merged transaction holds."""

MAX_GROUP_BYTES = 2 * 1024 * 1024
"""The most resource body bytes one merged transaction holds; a write above it goes alone."""

MAX_MEMBER_WRITES = 8
"""A write of more versions than this (a Bundle) commits alone, as it always has."""


@dataclass(frozen=True)
class WriteCall:
    """One `write_all` call: versions, condition locks and linked documents, committed together."""

    writes: Sequence[PendingWrite]
    locks: Sequence[ConditionLock] = ()
    linked: Sequence[Linked] = ()

    @property
    def keys(self) -> frozenset[str]:
        """What two calls in one group must not share: resources written and condition keys taken."""
        return frozenset([*(w.record.reference for w in self.writes), *(f"lock:{lock.key}" for lock in self.locks)])

    @property
    def size(self) -> int:
        return sum(len(w.record.body or b"") for w in self.writes)


def merged(calls: Sequence[WriteCall]) -> WriteCall:
    """The calls as one: their versions, locks and linked documents in turn."""
    return WriteCall(
        [w for call in calls for w in call.writes],
        [lock for call in calls for lock in call.locks],
        [item for call in calls for item in call.linked],
    )


class _Outcome(Enum):
    COMMITTED = "committed"
    TURN = "turn"
    """The caller commits its write itself, now, and starts the next group after it."""
    RETRY = "retry"
    """The caller's group failed, so nothing of it was stored: the caller commits its write on its own."""


@dataclass(eq=False)
class _Waiting:
    call: WriteCall
    decided: asyncio.Future[_Outcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


Commit = Callable[[WriteCall], Awaitable[None]]


class CommitGroup:
    """Runs `commit` for every call, merging the small calls that queue while a commit is under way.

    One commit at a time goes through the group (its turn): a caller's own, or a merged group's.
    Whoever holds the turn hands it on when done (`_next`).
    """

    def __init__(self, commit: Commit) -> None:
        self._commit = commit
        self._queue: deque[_Waiting] = deque()
        self._busy = False
        self._groups: set[asyncio.Task[None]] = set()
        self._context = contextvars.copy_context()  # merged commits run in no caller's context

    async def write(self, call: WriteCall) -> None:
        """Commit `call`, alone or in a group; raises what `commit(call)` alone would raise."""
        if len(call.writes) > MAX_MEMBER_WRITES or call.size > MAX_GROUP_BYTES:
            await self._commit(call)
            return
        if not self._busy:
            self._busy = True
        else:
            outcome = await self._wait(call)
            if outcome is _Outcome.COMMITTED:
                return
            if outcome is _Outcome.RETRY:
                await self._commit(call)
                return
        try:
            await self._commit(call)
        finally:
            self._next()

    async def _wait(self, call: WriteCall) -> _Outcome:
        waiting = _Waiting(call)
        self._queue.append(waiting)
        try:
            return await waiting.decided
        except asyncio.CancelledError:
            if not waiting.decided.cancelled() and waiting.decided.result() is _Outcome.TURN:
                self._next()  # given the turn, but gone: hand it on
            raise

    def _next(self) -> None:
        """Hand the turn to what queued: one call commits itself, several commit as one group."""
        group = self._take()
        if not group:
            self._busy = False
        elif len(group) == 1:
            group[0].decided.set_result(_Outcome.TURN)
        else:
            task = asyncio.create_task(self._commit_group(group), context=self._context)
            self._groups.add(task)
            task.add_done_callback(self._groups.discard)

    def _take(self) -> list[_Waiting]:
        """The queued calls that commit next: in order, skipping cancelled ones and ones that overlap."""
        group: list[_Waiting] = []
        keys: set[str] = set()
        writes = size = 0
        later: deque[_Waiting] = deque()
        while self._queue:
            waiting = self._queue.popleft()
            if waiting.decided.done():
                continue
            call = waiting.call
            fits = writes + len(call.writes) <= MAX_GROUP_WRITES and size + call.size <= MAX_GROUP_BYTES
            if group and (not fits or keys & call.keys):
                later.append(waiting)
                continue
            group.append(waiting)
            keys |= call.keys
            writes, size = writes + len(call.writes), size + call.size
        self._queue = later
        return group

    async def _commit_group(self, group: list[_Waiting]) -> None:
        try:
            await self._commit(merged([waiting.call for waiting in group]))
            outcome = _Outcome.COMMITTED
        except Exception:
            outcome = _Outcome.RETRY  # nothing was committed: each commits on its own, in its own task
        except BaseException:  # cancelled (stopping): its callers end as if cancelled in their own commit
            for waiting in group:
                waiting.decided.cancel()
            raise
        finally:
            self._next()
        for waiting in group:
            if not waiting.decided.done():
                waiting.decided.set_result(outcome)

    async def close(self) -> None:
        """Wait for the merged commits under way."""
        if self._groups:
            await asyncio.gather(*self._groups, return_exceptions=True)
