"""The HL7 v2 message log over HTTP, for admins: `GET /admin/hl7/messages`, `GET /admin/hl7/messages/{id}`,
and the orders sent to labs: `GET /admin/hl7/outbox`, `GET /admin/hl7/outbox/{id}`.

Every message received (accepted or rejected) with its status, ACKs, error, warnings and the
resources it produced; each processed message's FHIR view is its Provenance
(`Provenance?target=...`, see `provenance.py`). Plain JSON, not FHIR: the log holds messages,
not resources. Errors are still OperationOutcomes. Like everything under `/admin/`, for
administrators only (`rest/access.py` `admin_policy`, applied where the app mounts the router).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from fhir_server.errors import InvalidRequest, ResourceNotFound
from fhir_server.i18n import _
from fhir_server.rest.instants import instant_param
from fhir_server.storage.database import Database
from fhir_server.storage.hl7_messages import STATUSES, MessageRecord, MessageStore
from fhir_server.storage.hl7_outbox import STATUSES as OUTBOX_STATUSES
from fhir_server.storage.hl7_outbox import OutboxEntry, OutboxStore

router = APIRouter()

MAX_COUNT = 1000


def _messages(request: Request) -> MessageStore:
    database: Database = request.app.state.database
    return database.hl7_messages


def _summary(record: MessageRecord) -> dict[str, Any]:
    return {
        "id": record.id, "received": record.received.isoformat(), "status": record.status,
        "updated": record.updated.isoformat() if record.updated else None, "sendingApp": record.sending_app,
        "sendingFacility": record.sending_facility, "messageType": record.message_type,
        "controlId": record.control_id, "attempts": record.attempts, "error": record.error,
        "warnings": record.warnings, "resources": record.resources,
    }  # fmt: skip


@router.get("/messages", include_in_schema=False)
async def list_messages(
    request: Request,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
    sender: str | None = None,
    control_id: str | None = None,
    count: int = 100,
) -> Response:
    """Newest first; `until` = the oldest `received` of a page gives the next (older) page."""
    if status is not None and status not in STATUSES:
        raise InvalidRequest(
            _("'status' must be one of {allowed}.").format(allowed=", ".join(STATUSES)), expression="status"
        )
    if not 1 <= count <= MAX_COUNT:
        raise InvalidRequest(_("'count' must be 1 to {max}.").format(max=MAX_COUNT), expression="count")
    messages = _messages(request)
    since_at, until_at = instant_param("since", since), instant_param("until", until)
    records = await messages.list(status, since_at, until_at, count, sending_app=sender, control_id=control_id)
    return JSONResponse({"counts": await messages.counts(), "messages": [_summary(r) for r in records]})


@router.get("/messages/{message_id}", include_in_schema=False)
async def read_message(request: Request, message_id: str) -> Response:
    """One message with its raw text (as decoded) and every ACK sent for it."""
    record = await _messages(request).get(message_id)
    if record is None:
        raise ResourceNotFound(_("HL7 message {id} was not found.").format(id=message_id))
    return JSONResponse({**_summary(record), "charset": record.charset, "raw": record.raw, "acks": record.acks})


def _outbound(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "id": entry.id, "serviceRequest": entry.service_request, "version": entry.version, "control": entry.control,
        "lab": entry.lab, "status": entry.status, "created": entry.created.isoformat(), "due": entry.due.isoformat(),
        "tries": entry.tries, "transmissions": entry.transmissions, "controlId": entry.control_id,
        "error": entry.error,
    }  # fmt: skip


def _outbox(request: Request) -> OutboxStore:
    database: Database = request.app.state.database
    return database.hl7_outbox


@router.get("/outbox", include_in_schema=False)
async def list_outbound(
    request: Request,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
    service_request: str | None = None,
    count: int = 100,
) -> Response:
    """Order messages to labs, newest first, with counts per status (queued, sent, acknowledged, ...)."""
    if status is not None and status not in OUTBOX_STATUSES:
        raise InvalidRequest(
            _("'status' must be one of {allowed}.").format(allowed=", ".join(OUTBOX_STATUSES)), expression="status"
        )
    if not 1 <= count <= MAX_COUNT:
        raise InvalidRequest(_("'count' must be 1 to {max}.").format(max=MAX_COUNT), expression="count")
    outbox = _outbox(request)
    since_at, until_at = instant_param("since", since), instant_param("until", until)
    entries = await outbox.list(status, since_at, until_at, service_request, count)
    return JSONResponse({"counts": await outbox.counts(), "messages": [_outbound(e) for e in entries]})


@router.get("/outbox/{entry_id:path}", include_in_schema=False)
async def read_outbound(request: Request, entry_id: str) -> Response:
    """One order message with its text, the lab's ACK and its history of attempts."""
    found = await _outbox(request).get(entry_id)
    if found is None:
        raise ResourceNotFound(_("Outbound HL7 message {id} was not found.").format(id=entry_id))
    events = [{**event, "at": event["at"].isoformat()} for event in found.events]
    return JSONResponse({**_outbound(found), "message": found.message, "ack": found.ack, "events": events})
