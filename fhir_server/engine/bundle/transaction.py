"""FHIR transaction: every entry or none, in one database transaction. https://hl7.org/fhir/R4/http.html#transaction

The server first decides what every entry does (ids for creates, matches for conditional
entries), then rewrites the references between entries, builds every new version, and
stores them all with one `commit_writes`. Any failing entry fails the whole Bundle with one
OperationOutcome naming the entry; nothing is written. Reads (GET) run after the writes.

Conditional entries that create (`ifNoneExist` with no match, a conditional update with no match)
take the ConditionLock of their criteria, as a single conditional create does (engine/conditional.py):
the lock counters are read before any search, and the commit advances each of them (in key order)
only if no other write did since, so two transactions creating "the same" resource cannot both
commit; the loser plans again and finds the winner's resource. Nothing is held between planning
and commit, so there is nothing to release on failure and no order of entries can deadlock; a
process that dies inside its commit leaves an open database transaction that the database aborts
when its lifetime ends (until then the lock's other writers get 503, try again).

A conditional reference with the criteria of such an entry names that entry's resource (which the
search could not find yet). Other conditional references, conditional deletes and conditional
patches take no lock: they create nothing, a found match could only be duplicated by a write that
did not look for it, and a concurrent change of the matched resource collides on its version.

Access: before anything runs, every entry's interaction is checked against the policy (a
403 naming the first entry it refuses); each write is checked again on the versions it
replaces and writes (engine/access.py; under a granular scope every new version must match the
scope's query inside the one database transaction, so one entry outside it writes nothing), and
conditional matches only see what the policy reaches.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ...auth.policy import AccessPolicy
from ...errors import (
    FhirError,
    InvalidRequest,
    PreconditionFailed,
    ResourceNotFound,
    StorageUnavailable,
    VersionConflict,
)
from ...i18n import _
from ...storage import ConditionLock, PendingWrite, ResourceStore, StoredResource, WriteRefused
from ..access import refused_write, write_permission
from ..conditional import condition_key, find_matches
from ..identity import new_id
from ..observers import commit_writes
from ..patch_resource import apply_patch
from ..rules import RefusedByRule
from ..validation import check_incoming
from ..writing import check_if_match, guard_write, next_version
from .entries import TRANSACTION_ORDER, BundleEntry, parse_entry
from .reads import EntryResult, read_entry
from .references import rewrite_references

_ATTEMPTS = 20


def in_entry(entry: BundleEntry, exc: FhirError) -> FhirError:
    """The same error, its diagnostics prefixed with the entry's index and fullUrl."""
    issues = [
        issue.__class__(
            issue.severity, issue.code, f"{entry.label()}: {issue.diagnostics}", issue.expression or entry.where
        )
        for issue in exc.issues
    ]
    return exc.__class__(issues[0].diagnostics, headers=exc.headers, issues=issues)


@dataclass
class _Target:
    """What one write entry does: which resource, and whether it certainly does not exist yet."""

    entry: BundleEntry
    resource_type: str
    resource_id: str
    fresh: bool = False
    body: dict[str, Any] | None = None


@dataclass
class _Plan:
    mapping: dict[str, str] = field(default_factory=dict)
    targets: list[_Target] = field(default_factory=list)
    references: set[str] = field(default_factory=set)
    """`Type/id` of every target, to refuse a second entry on one resource without a scan per entry."""
    results: dict[int, EntryResult] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)
    """The ConditionLock counters of the conditional entries, read before any of them searched."""
    locks: dict[str, ConditionLock] = field(default_factory=dict)
    """The ConditionLocks of the conditional entries that create, by key: advanced by the commit."""
    conditions: dict[str, str] = field(default_factory=dict)
    """`Type/id` of the resource each conditional create or update stands for, by condition key."""


class _Retry(Exception):
    """Another request changed a resource between planning and commit; plan again."""


async def _one_match(
    store: ResourceStore, policy: AccessPolicy, resource_type: str, criteria: list[tuple[str, str]], permission: str
) -> StoredResource | None:
    matches = await find_matches(store, policy, resource_type, criteria, 2, permission)
    if len(matches) > 1:
        raise PreconditionFailed(
            _("The criteria match {count} {type} resources; they must match at most one.").format(
                count=len(matches), type=resource_type
            )
        )
    return matches[0] if matches else None


_PERMISSIONS = {"GET": "r", "HEAD": "r", "POST": "c", "PATCH": "u", "DELETE": "d"}


def _check_entry(policy: AccessPolicy, entry: BundleEntry) -> None:
    """Raise Forbidden unless the policy allows the entry's interaction on its type at all."""
    if entry.method == "PUT":
        if not policy.allows("u", entry.resource_type):
            policy.require("c", entry.resource_type)
        return
    permission = _PERMISSIONS[entry.method]
    if entry.method in ("GET", "HEAD") and entry.resource_id is None:
        permission = "s"
    policy.require(permission, entry.resource_type)


def _condition(entry: BundleEntry) -> list[tuple[str, str]] | None:
    """The criteria of a conditional entry that creates when nothing matches (conditional create or update)."""
    if entry.method == "POST":
        return entry.if_none_exist or None
    return entry.criteria if entry.method == "PUT" else None


def _lock(plan: _Plan, entry: BundleEntry, key: str | None) -> None:
    """Take (at commit) the ConditionLock of an entry that creates because nothing matched."""
    if key is None:
        return
    if key in plan.locks:
        raise InvalidRequest(
            _("Another entry creates a {type} with the same criteria.").format(type=entry.resource_type)
        )
    plan.locks[key] = ConditionLock(key, plan.seen.get(key))


async def _plan_entry(
    store: ResourceStore, policy: AccessPolicy, entry: BundleEntry, key: str | None, plan: _Plan
) -> None:
    """Decide the target of a write entry (or, for a matched conditional create, its result).

    `key` names the ConditionLock of a conditional create or update (None for other entries).
    """
    target_id: str | None = entry.resource_id
    fresh = False
    if entry.method == "POST":
        if entry.if_none_exist:
            existing = await _one_match(store, policy, entry.resource_type, entry.if_none_exist, "c")
            if existing is not None:
                plan.results[entry.index] = EntryResult("200 OK", existing, location=True)
                if entry.full_url:
                    plan.mapping[entry.full_url] = existing.reference
                if key is not None:
                    plan.conditions.setdefault(key, existing.reference)
                return
            _lock(plan, entry, key)
        target_id, fresh = new_id(), True
    elif entry.criteria is not None:
        match = await _one_match(
            store, policy, entry.resource_type, entry.criteria, _PERMISSIONS.get(entry.method, "u")
        )
        if match is not None:
            target_id = match.id
        elif entry.method == "PUT":
            _lock(plan, entry, key)
            body_id = (entry.resource or {}).get("id")
            target_id, fresh = (str(body_id), False) if body_id else (new_id(), True)
        elif entry.method == "PATCH":
            raise ResourceNotFound(_("No {type} matches the criteria.").format(type=entry.resource_type))
        else:
            plan.results[entry.index] = EntryResult("204 No Content")
            return
    if target_id is None:
        raise InvalidRequest(_("A {method} entry needs a resource id or search criteria.").format(method=entry.method))
    reference = f"{entry.resource_type}/{target_id}"
    if reference in plan.references:
        raise InvalidRequest(_("{reference} is the target of more than one entry.").format(reference=reference))
    plan.references.add(reference)
    if entry.full_url:
        plan.mapping[entry.full_url] = reference
    if key is not None:
        plan.conditions.setdefault(key, reference)
    plan.targets.append(_Target(entry, entry.resource_type, target_id, fresh))


async def _pending(
    store: ResourceStore, policy: AccessPolicy, target: _Target, current: StoredResource | None, plan: _Plan
) -> PendingWrite | None:
    """Build the version a target entry writes (None: a delete of nothing) and record its result."""
    entry = target.entry
    reference = f"{target.resource_type}/{target.resource_id}"
    check_if_match(reference, entry.if_match, current)
    body: dict[str, Any] | None
    if entry.method == "DELETE":
        if current is None or current.deleted:
            plan.results[entry.index] = EntryResult("204 No Content")
            return None
        body = None
    elif entry.method == "PATCH":
        if current is None or current.deleted:
            raise ResourceNotFound(_("{reference} was not found.").format(reference=reference))
        patch_format, document = entry.patch_document()
        body = apply_patch(current.resource(), patch_format, document, target.resource_type, target.resource_id)
    else:
        incoming = dict(target.body or {})
        if entry.method == "PUT" and entry.criteria is not None:
            incoming["id"] = target.resource_id
        body = check_incoming(incoming, target.resource_type, target.resource_id if entry.method == "PUT" else None)
    must_match = await guard_write(store, policy, entry.method, target.resource_type, target.resource_id, current, body)
    pending = next_version(target.resource_type, target.resource_id, body, current, entry.method, must_match)
    created = current is None or current.deleted
    status = "204 No Content" if body is None else ("201 Created" if created else "200 OK")
    plan.results[entry.index] = EntryResult(status, pending.record, location=body is not None)
    return pending


def _target(plan: _Plan, reference: str) -> _Target:
    return next(t for t in plan.targets if f"{t.resource_type}/{t.resource_id}" == reference)


def _condition_keys(entries: list[BundleEntry]) -> dict[int, str]:
    """The ConditionLock key of each conditional create or update, by entry index."""
    keys = {}
    for entry in entries:
        criteria = _condition(entry)
        if criteria is not None:
            try:
                keys[entry.index] = condition_key(entry.resource_type, criteria)
            except FhirError as exc:
                raise in_entry(entry, exc) from exc
    return keys


async def _attempt(
    store: ResourceStore, policy: AccessPolicy, entries: list[BundleEntry], keys: dict[int, str]
) -> dict[int, EntryResult]:
    plan = _Plan()
    plan.seen = await store.condition_counters(sorted(set(keys.values())))  # before any conditional search
    writes = [e for e in entries if e.method not in ("GET", "HEAD")]
    for entry in sorted(writes, key=lambda e: (TRANSACTION_ORDER[e.method], e.index)):
        try:
            await _plan_entry(store, policy, entry, keys.get(entry.index), plan)
        except FhirError as exc:
            raise in_entry(entry, exc) from exc

    async def resolve(conditional: str) -> str:
        resource_type, _sep, query = conditional.partition("?")
        criteria = parse_qsl(query, keep_blank_values=True)
        if plan.conditions and (planned := plan.conditions.get(condition_key(resource_type, criteria))):
            return planned
        match = await _one_match(store, policy, resource_type, criteria, "s")
        if match is None:
            raise PreconditionFailed(_("The conditional reference '{ref}' matches nothing.").format(ref=conditional))
        return match.reference

    existing = [f"{t.resource_type}/{t.resource_id}" for t in plan.targets if not t.fresh]
    currents = {record.reference: record for record in await store.get_many(existing, deleted=True)}
    pending: list[PendingWrite] = []
    for target in plan.targets:
        try:
            if target.entry.resource is not None and target.entry.method in ("POST", "PUT"):
                target.body = await rewrite_references(target.entry.resource, plan.mapping, resolve)
            write = await _pending(
                store, policy, target, currents.get(f"{target.resource_type}/{target.resource_id}"), plan
            )
        except FhirError as exc:
            raise in_entry(target.entry, exc) from exc
        if write is not None:
            pending.append(write)
    try:
        await commit_writes(store, pending, policy=policy, locks=list(plan.locks.values()))
    except RefusedByRule as exc:
        raise in_entry(_target(plan, exc.reference).entry, exc.error) from None
    except WriteRefused as exc:
        target = _target(plan, exc.reference)
        permission = write_permission(target.entry.method, currents.get(exc.reference))
        refused = refused_write(policy, permission, target.resource_type, target.resource_id, stored=False)
        raise in_entry(target.entry, refused) from None
    except VersionConflict as exc:  # a changed version or a lock; an ifMatch entry that lost is a 412 next time
        raise _Retry from exc
    return plan.results


async def process_transaction(
    store: ResourceStore, policy: AccessPolicy, raw_entries: list[Any], base: str | None
) -> list[EntryResult]:
    """Run a transaction Bundle's entries; the results come in the Bundle's entry order.

    Raises a FhirError (naming the failing entry) when any entry fails; then nothing is written.
    """
    entries = [parse_entry(index, raw, base) for index, raw in enumerate(raw_entries)]
    for entry in entries:
        try:
            _check_entry(policy, entry)
        except FhirError as exc:
            raise in_entry(entry, exc) from exc
    keys = _condition_keys(entries)
    for attempt in range(_ATTEMPTS):
        try:
            results = await _attempt(store, policy, entries, keys)
            break
        except _Retry:
            await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
    else:
        raise StorageUnavailable(_("The transaction kept colliding with other writes; try again."))
    for entry in entries:
        if entry.method in ("GET", "HEAD"):
            results[entry.index] = await read_entry(store, policy, entry, base)
    return [results[entry.index] for entry in entries]
