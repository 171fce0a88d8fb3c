"""Transmission of signed prescriptions to external pharmacies, through the durable pharmacy outbox
(storage/pharmacy_outbox.py); the sending is in sender.py.

Queueing: the prescribing write rule adds the outbox entry in the transaction of the signed version when
the prescription names a pharmacy (pharmacy.py), so a prescription is queued exactly when it is signed.

Sending (the leased `pharmacy-transmission` duty, one process at a time): each due entry is POSTed to the
pharmacy as a Task (intent order, focus the prescription by its absolute URL, an `input` whose
valueAttachment is the JSON Bundle of what the pharmacy needs: the request, the patient, the prescriber,
the Medication when referenced, the signing Provenance). The POST is a conditional create
(`If-None-Exist: identifier=...` with the prescription's URL as the Task identifier): a retry after a
lost answer finds the Task already made, so a pharmacy never gets it twice. Unreachable or 5xx: retried
after a backoff doubling from `prescribing_retry_seconds` up to `prescribing_retry_max_seconds`; a 4xx:
failed (the local Task says so).

Status: the pharmacy's Task is polled every `prescribing_poll_seconds`; its status is copied to the local
Task (focus the prescription), and a `completed` one completes the prescription.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ...storage import ResourceStore
from ...storage.pharmacy_outbox import COLLECTION, entry_document
from .pharmacy import pharmacy_of


async def queue_transmission(
    store: ResourceStore, reference: str, version: int, signed: Mapping[str, Any]
) -> tuple[str, dict[str, Any]] | None:
    """The outbox document for a signed version naming a pharmacy (collection, document); None otherwise."""
    pharmacy = await pharmacy_of(store, signed)
    if pharmacy is None:
        return None
    document = entry_document(reference, version, pharmacy.organization, pharmacy.address, list(pharmacy.headers),
                              datetime.now(UTC))  # fmt: skip
    return COLLECTION, document
