"""Group commit: small writes that arrive while another commits wait for it, then commit together (batching.py).

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

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from .batching import Batcher
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


Commit = Callable[[WriteCall], Awaitable[None]]


def _fits(group: list[WriteCall], call: WriteCall) -> bool:
    """Whether `call` may join `group`: within its bounds, and sharing no resource or condition with it."""
    writes = sum(len(member.writes) for member in group) + len(call.writes)
    size = sum(member.size for member in group) + call.size
    taken = frozenset().union(*(member.keys for member in group))
    return writes <= MAX_GROUP_WRITES and size <= MAX_GROUP_BYTES and not taken & call.keys


def _alone(call: WriteCall) -> bool:
    return len(call.writes) > MAX_MEMBER_WRITES or call.size > MAX_GROUP_BYTES


class CommitGroup:
    """Runs `commit` for every call, merging the small calls that queue while a commit is under way."""

    def __init__(self, commit: Commit) -> None:
        async def together(calls: list[WriteCall]) -> list[None]:
            await commit(merged(calls))
            return [None] * len(calls)

        self._batcher = Batcher(commit, together, fits=_fits, solo=_alone)

    async def write(self, call: WriteCall) -> None:
        """Commit `call`, alone or in a group; raises what `commit(call)` alone would raise."""
        await self._batcher.run(call)

    async def close(self) -> None:
        """Wait for the merged commits under way."""
        await self._batcher.close()
