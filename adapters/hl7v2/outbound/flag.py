"""A Task that puts an order the lab did not take in front of people (focus = the ServiceRequest)."""

from __future__ import annotations

from typing import Any

from fhir_server.engine import conditional_create
from fhir_server.storage import ResourceStore

from ..access import HL7_POLICY
from ..mapping.bundle import escape_token

TASK_SYSTEM = "urn:hl7v2:task:review-lab-order"
TAG_SYSTEM = "urn:hl7v2:tag"
REVIEW_CODE = {
    "coding": [{"system": TAG_SYSTEM, "code": "review-lab-order"}],
    "text": "review an order the lab did not accept",
}


async def flag_order(
    store: ResourceStore, entry_id: str, service_request: str, patient: str | None, reason: str
) -> str:
    """Create the review Task of outbox entry `entry_id` (once: it is keyed by the entry); return its reference."""
    key = {"system": TASK_SYSTEM, "value": entry_id}
    task: dict[str, Any] = {
        "resourceType": "Task",
        "identifier": [key],
        "status": "requested",
        "intent": "order",
        "code": REVIEW_CODE,
        "description": reason,
        "statusReason": {"text": reason},
        "focus": {"reference": service_request},
    }
    if patient:
        task["for"] = {"reference": patient}
    criteria = [("identifier", f"{escape_token(TASK_SYSTEM)}|{escape_token(entry_id)}")]
    result = await conditional_create(store, HL7_POLICY, "Task", task, criteria)
    return result.record.reference
