"""Declared write rules: per-resource-type checks run on every write, just before its commit.

A rule is declared once with `@write_rule(...)`: the resource types and interactions it guards and an
async function taking a `WriteContext`. Every engine write (create, update, patch, delete, their
conditional forms, transaction and batch entries, and so the CLI import, Bulk `$import`, the HL7 v2
adapter and the demo loader, which all write through the engine) reaches `commit_writes`
(engine/observers.py), which runs the rules of each version about to be stored. A rule may:

- refuse the write by raising a FhirError (a 4xx with its OperationOutcome): nothing is written, and
  in a transaction the whole Bundle is refused, the error naming the entry;
- read other resources through `context.store` (and see the other versions of the same commit in
  `context.writes`: they are not in the store yet);
- take a lock with `await context.lock(key)`, BEFORE the reads it guards: the lock's counter is read
  then, and the commit advances it inside the write's database transaction only if no other write
  did since (a storage ConditionLock, as conditional creates use). A write that lost the race is
  retried from the start, so its rules run again and see the winner's resource;
- add documents for other collections with `context.add_document(...)` (`if_absent=True`: keyed by an
  idempotency key, the same `_id` twice is one document) and update them with `context.add_update(...)`:
  applied in the write's transaction, like the documents of write observers;
- add resource versions to the commit with `context.add_write(...)` (a charge for a finished visit):
  committed with the write or not at all, and checked by their own type's rules in turn.

Reads are not made inside the database transaction: under snapshot isolation that would not stop
two concurrent writes from each missing the other anyway (write skew); the lock is what makes a rule
race-free. A rule runs again each time a write is retried after a lost race.

Restore (engine/backup.py) does not run rules: it puts back history verbatim, versions that passed the
rules of their day; refusing one of them now would leave a backup that cannot be restored.

Example: the scheduling workflow refusing double bookings. One lock per actor and day (every day the
appointment touches), so two bookings of one practitioner on one day are serialized while other days
and actors go in parallel; another Appointment of the same transaction Bundle is in `context.writes`::

    @write_rule("appointment-no-double-booking", ["Appointment"], ["create", "update", "patch"])
    async def no_double_booking(context: WriteContext) -> None:
        appointment = context.new
        if appointment is None or appointment.get("status") in ("cancelled", "entered-in-error", "noshow"):
            return
        start, end = appointment["start"], appointment["end"]
        for actor in actors(appointment):
            for day in days(start, end):
                await context.lock(f"booking/{actor}/{day}")  # before the search it guards
        for actor in actors(appointment):
            window = [("actor", actor), ("date", f"lt{end}"), ("date", f"ge{start_minus_longest_visit}")]
            booked = await context.find("Appointment", window, 100)
            others = [r.resource() for r in booked if r.id != context.resource_id]
            others += [w.record.resource() for w in context.writes if w is not context.write]
            if any(overlaps(other, appointment) and actor in actors(other) for other in others):
                raise VersionConflict(_("{actor} is already booked at that time.").format(actor=actor))

A rule's FhirError is the answer (a VersionConflict raised by a rule is a 409, not retried).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ...auth.policy import AccessPolicy
from ...errors import FhirError
from ...search.registry import default_registry
from ...search.request import SearchRequest, parse_search_request
from ...storage import ConditionLock, Linked, LinkedDocument, LinkedUpdate, PendingWrite, ResourceStore, StoredResource
from ..search import search_type

Interaction = Literal["create", "update", "patch", "delete"]
INTERACTIONS: tuple[Interaction, ...] = ("create", "update", "patch", "delete")

_RULES = AccessPolicy.system("write-rules")
"""Rules read with full access: an invariant holds over every resource, not only those the writer may see."""

LOCK_PREFIX = "rule/"
"""Rule lock keys are kept apart from the conditional-create keys (hex digests) by this prefix."""


@dataclass
class WriteContext:
    """What a rule sees of one version about to be committed, and what it may add to the commit."""

    store: ResourceStore
    policy: AccessPolicy | None
    """The policy of the write (None: the caller gave none)."""
    interaction: Interaction
    write: PendingWrite
    """The new version (its record, search fields)."""
    current: StoredResource | None
    """The version it replaces (None: there is none; it may be a deletion when a PUT re-creates)."""
    writes: Sequence[PendingWrite]
    """Every version of this commit (a transaction's other entries too), this one included."""
    locks: list[ConditionLock] = field(default_factory=list)
    documents: list[Linked] = field(default_factory=list)
    added: list[PendingWrite] = field(default_factory=list)

    @property
    def resource_type(self) -> str:
        return self.write.record.resource_type

    @property
    def resource_id(self) -> str:
        return self.write.record.id

    @property
    def historical(self) -> bool:
        """Whether the write loads history (an import, see AccessPolicy.historical): no follow-up work."""
        return self.policy is not None and self.policy.historical

    @property
    def new(self) -> dict[str, Any] | None:
        """The new version as stamped (id, meta), None for a deletion."""
        return None if self.write.record.deleted else self.write.record.resource()

    async def lock(self, key: str) -> None:
        """Have the commit fail (and the write be retried) if another write takes `key` before it commits.

        Call it before the reads the lock guards: the counter is read now.
        """
        name = LOCK_PREFIX + key
        seen = (await self.store.condition_counters([name])).get(name)
        self.locks.append(ConditionLock(name, seen))

    async def find(
        self, resource_type: str, criteria: Sequence[tuple[str, str]], limit: int = 10
    ) -> list[StoredResource]:
        """Up to `limit` current resources matching search `criteria` (as in a search URL; an unknown parameter
        is an error). The versions of this commit are not stored yet (see `writes`); the current version of
        the resource being written may be among them."""
        request = parse_search_request(
            resource_type, criteria, default_registry(), default_count=limit, max_count=limit, strict=True
        )
        narrowed = SearchRequest(request.resource_type, request.filters, limit, total="none")
        return (await search_type(self.store, _RULES, narrowed)).page.records

    def add_document(self, collection: str, document: Mapping[str, Any], *, if_absent: bool = False) -> None:
        """Insert `document` into `collection` in the write's transaction (not a resource collection);
        `if_absent`: unless a document with its `_id` is there already."""
        self.documents.append(LinkedDocument(collection, document, if_absent))

    def add_update(self, collection: str, match: Mapping[str, Any], update: Mapping[str, Any]) -> None:
        """Update the documents of `collection` matching `match` in the write's transaction."""
        self.documents.append(LinkedUpdate(collection, match, update))

    def add_write(self, write: PendingWrite) -> None:
        """Commit `write` (built with engine.writing.next_version) with this one; its rules run too."""
        self.added.append(write)


Check = Callable[[WriteContext], Awaitable[None]]


@dataclass(frozen=True)
class WriteRule:
    """A declared rule: `check` runs for writes of `resource_types` by one of `interactions`."""

    name: str
    resource_types: frozenset[str]
    interactions: frozenset[Interaction]
    check: Check


class RefusedByRule(Exception):
    """A rule refused the version of `reference`; `error` is the answer for the client."""

    def __init__(self, reference: str, error: FhirError) -> None:
        super().__init__(reference)
        self.reference = reference
        self.error = error


_rules: dict[str, list[WriteRule]] = {}


def write_rule(
    name: str, resource_types: Iterable[str], interactions: Iterable[Interaction] = INTERACTIONS
) -> Callable[[Check], Check]:
    """Declare the decorated function a write rule (declaring the same name again replaces it)."""

    def declare(check: Check) -> Check:
        rule = WriteRule(name, frozenset(resource_types), frozenset(interactions), check)
        for resource_type in rule.resource_types:
            kept = [r for r in _rules.get(resource_type, []) if r.name != name]
            _rules[resource_type] = [*kept, rule]
        return check

    return declare


def rules_for(resource_type: str) -> tuple[WriteRule, ...]:
    """The rules declared for `resource_type`, in declaration order."""
    return tuple(_rules.get(resource_type, ()))


def _interaction(write: PendingWrite, current: StoredResource | None) -> Interaction:
    if write.record.deleted:
        return "delete"
    if current is None or current.deleted:
        return "create"
    return "patch" if write.record.method == "PATCH" else "update"


async def run_write_rules(
    store: ResourceStore, writes: Sequence[PendingWrite], policy: AccessPolicy | None
) -> tuple[list[ConditionLock], list[Linked], list[PendingWrite]]:
    """Run the rules of every version of a commit; the locks, documents and versions they add to it.

    Versions added by a rule are checked by their own rules too (and see every version so far in
    `writes`). Raises RefusedByRule naming the version a rule refused.
    """
    locks: list[ConditionLock] = []
    documents: list[Linked] = []
    every = list(writes)
    for write in every:
        rules = rules_for(write.record.resource_type)
        if not rules:
            continue
        record = write.record
        current = write.replaced
        if write.replaces is not None and (current is None or current.version_id != write.replaces):
            current = await store.get_version(record.resource_type, record.id, write.replaces)
        context = WriteContext(store, policy, _interaction(write, current), write, current, every)
        for rule in rules:
            if context.interaction in rule.interactions:
                try:
                    await rule.check(context)
                except FhirError as exc:
                    raise RefusedByRule(record.reference, exc) from exc
        locks.extend(context.locks)
        documents.extend(context.documents)
        every.extend(context.added)
    return locks, documents, every[len(writes) :]


def load_rule_modules(names: str) -> None:
    """Import the comma-separated modules `names` (a practice's own rules declare themselves on import)."""
    for name in filter(None, (part.strip() for part in names.split(","))):
        importlib.import_module(name)
