"""Batch and transaction Bundles: POST [base]. https://hl7.org/fhir/R4/http.html#transaction"""

from typing import Any

from ...auth.policy import AccessPolicy
from ...storage import ResourceStore
from .batch import process_batch
from .entries import bundle_entries
from .reads import EntryResult
from .transaction import process_transaction


async def process_bundle(
    store: ResourceStore, policy: AccessPolicy, bundle: Any, base: str | None
) -> tuple[str, list[EntryResult]]:
    """Run a batch or transaction Bundle; return its type and one result per entry, in entry order.

    Every entry is checked against `policy`. Raises InvalidRequest for a Bundle that is neither,
    and (transaction) the failing entry's error, a 403 naming it when the policy refuses one.
    """
    bundle_type, raw_entries = bundle_entries(bundle)
    if bundle_type == "transaction":
        return bundle_type, await process_transaction(store, policy, raw_entries, base)
    return bundle_type, await process_batch(store, policy, raw_entries, base)


__all__ = ["EntryResult", "process_bundle"]
