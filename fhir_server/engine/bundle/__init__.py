"""Batch and transaction Bundles: POST [base]. https://hl7.org/fhir/R4/http.html#transaction"""

from typing import Any

from ...storage import ResourceStore
from .batch import process_batch
from .entries import bundle_entries
from .reads import EntryResult
from .transaction import process_transaction


async def process_bundle(store: ResourceStore, bundle: Any, base: str | None) -> tuple[str, list[EntryResult]]:
    """Run a batch or transaction Bundle; return its type and one result per entry, in entry order.

    Raises InvalidRequest for a Bundle that is neither, and (transaction) the failing entry's error.
    """
    bundle_type, raw_entries = bundle_entries(bundle)
    if bundle_type == "transaction":
        return bundle_type, await process_transaction(store, raw_entries, base)
    return bundle_type, await process_batch(store, raw_entries, base)


__all__ = ["EntryResult", "process_bundle"]
