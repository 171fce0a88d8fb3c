"""The write observer that queues lab orders in the outbox, in the transaction of the ServiceRequest.

Rules, per ServiceRequest version committed (`sequence.queued_control`):
- `active`, a performer Organization with an active MLLP Endpoint, and no order queued before:
  a new order (ORC-1 `NW`) for that lab.
- `revoked` or `entered-in-error` (or deleted) after an order was queued, and no cancellation yet:
  a cancel order (`CA`) for the same lab.
- after an order was queued: `on-hold` -> `HD`, back to `active` -> `RL`, a change of what the lab
  sees (`sequence.LAB_VISIBLE`) -> `XO`, for the lab of the first order.
- Anything else queues nothing: a ServiceRequest for an Organization without an MLLP Endpoint, a
  draft, an update the lab would not see, an order revoked and made active again (write a new
  ServiceRequest instead).
The lab is looked up in the same commit first (a transaction Bundle may create the Organization
and Endpoint with the order), then among the stored resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fhir_server.engine import read_resource
from fhir_server.engine.observers import Observer
from fhir_server.errors import InvalidRequest, ResourceDeleted, ResourceNotFound
from fhir_server.storage import LinkedDocument, PendingWrite, ResourceStore
from fhir_server.storage.hl7_outbox import COLLECTION, OutboxStore, entry_document

from ..access import HL7_POLICY
from .gather import request_version
from .lab import endpoint_references, is_mllp
from .sequence import queued_control


def order_queue(outbox: OutboxStore) -> Observer:
    """The write observer queueing orders into `outbox` (see `queue_orders`)."""

    async def observe(store: ResourceStore, writes: Sequence[PendingWrite]) -> list[LinkedDocument]:
        return await queue_orders(outbox, store, writes)

    return observe


async def queue_orders(
    outbox: OutboxStore, store: ResourceStore, writes: Sequence[PendingWrite]
) -> list[LinkedDocument]:
    """Outbox entries for the ServiceRequest versions in `writes` that need a message to a lab."""
    requests = [w.record for w in writes if w.record.resource_type == "ServiceRequest"]
    if not requests:
        return []
    in_commit = {w.record.reference: w.record.resource() for w in writes if not w.record.deleted}
    documents = []
    for record in requests:
        body = None if record.deleted else record.resource()
        if body is not None and not _performers(body) and body.get("status") in ("active", "draft"):
            continue  # not a lab order (saves a look at the outbox)
        earlier = await outbox.of_order(record.reference)
        last = await request_version(store, record.reference, earlier[-1].version) if earlier else None
        control = queued_control(body, earlier, last)
        if control is None:
            continue
        lab = earlier[0].lab if earlier else await _mllp_lab(store, _performers(body or {}), in_commit)
        if lab is not None:
            entry = entry_document(record.reference, record.version_id, control, lab, record.last_updated)
            documents.append(LinkedDocument(COLLECTION, entry))
    return documents


def _performers(body: Mapping[str, Any]) -> list[str]:
    """The relative `Organization/id` performer references of a ServiceRequest."""
    out = []
    for performer in body.get("performer") or ():
        value = str((performer or {}).get("reference", ""))
        if value.startswith("Organization/") and value.count("/") == 1:
            out.append(value)
    return out


async def _mllp_lab(
    store: ResourceStore, organizations: list[str], in_commit: Mapping[str, dict[str, Any]]
) -> str | None:
    """The first performer Organization that has an active MLLP Endpoint."""
    for organization in organizations:
        body = await _resource(store, organization, in_commit)
        for endpoint in endpoint_references(body or {}):
            found = await _resource(store, endpoint, in_commit)
            if found is not None and is_mllp(found):
                return organization
    return None


async def _resource(
    store: ResourceStore, reference: str, in_commit: Mapping[str, dict[str, Any]]
) -> dict[str, Any] | None:
    if reference in in_commit:
        return in_commit[reference]
    resource_type, _sep, resource_id = reference.partition("/")
    try:
        return (await read_resource(store, HL7_POLICY, resource_type, resource_id)).resource()
    except (ResourceNotFound, ResourceDeleted, InvalidRequest):  # a dangling or malformed reference: no lab
        return None
