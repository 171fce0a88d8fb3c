"""Write observers: documents for other collections, committed in the same transaction as a write.

Some edges must never miss a write: the HL7 v2 order outbox (an order is queued exactly when
its ServiceRequest version exists) and the audit log (one AuditEvent per changed resource).
Such an edge registers an observer at start; every commit of the engine asks each observer for
documents to add, and storage inserts them in the MongoDB transaction of the versions they
follow, so a rolled-back write leaves no entry and a committed one always has its entries.
The engine knows nothing of what they mean.

Observers that need to know who is writing (the audit log) ask `writing_policy()`: the policy
of the engine call whose commit they are seeing.

An observer that raises fails the write (nothing is committed): losing an order silently would
be worse than refusing the write. Observers run again when a write is retried after a lost race.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar

from ..auth.policy import AccessPolicy
from ..storage import ConditionLock, LinkedDocument, PendingWrite, ResourceStore
from .rules import run_write_rules

Observer = Callable[[ResourceStore, Sequence[PendingWrite]], Awaitable[Sequence[LinkedDocument]]]
"""Given the store and the versions about to be committed, the documents to insert with them."""

_observers: list[Observer] = []
_writing: ContextVar[AccessPolicy | None] = ContextVar("fhir_server_writing_policy", default=None)


def writing_policy() -> AccessPolicy | None:
    """The policy of the write whose commit an observer is seeing (None when the caller gave none)."""
    return _writing.get()


def add_write_observer(observer: Observer) -> None:
    """Have `observer` see every commit of this process from now on (registering twice is a no-op)."""
    if observer not in _observers:
        _observers.append(observer)


def remove_write_observer(observer: Observer) -> None:
    """Stop calling `observer` (unknown observers are ignored)."""
    if observer in _observers:
        _observers.remove(observer)


async def commit_writes(
    store: ResourceStore,
    writes: Sequence[PendingWrite],
    *,
    policy: AccessPolicy | None = None,
    locks: Sequence[ConditionLock] = (),
) -> None:
    """Store `writes` (made under `policy`) with the observers' documents in one transaction.

    The write rules (engine/rules) run first: every engine write passes here. Raises RefusedByRule
    when one refuses a version, VersionConflict like write_all (`locks` as there, with the rules' own).
    """
    rule_locks, linked, added = await run_write_rules(store, writes, policy)
    writes = [*writes, *added]
    token = _writing.set(policy)
    try:
        for observer in tuple(_observers):
            linked.extend(await observer(store, writes))
    finally:
        _writing.reset(token)
    await store.write_all(writes, locks=_distinct([*locks, *rule_locks]), linked=linked)


def _distinct(locks: Sequence[ConditionLock]) -> list[ConditionLock]:
    """Each lock key once (two rules, or two versions of one transaction, may take the same key): the
    first read counter is kept, so a change since either read still fails the commit."""
    kept: dict[str, ConditionLock] = {}
    for lock in locks:
        kept.setdefault(lock.key, lock)
    return list(kept.values())
