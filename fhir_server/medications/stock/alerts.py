"""Alerts that reach someone: low stock (a reorder point crossed) and lots expiring soon.

Low stock: the ledger entry that takes a product at a location from above its reorder point to at or
below it stores a pending alert in its own transaction (ledger.py), so a crossing is seen exactly once
and stock going back above the point re-arms it without any state to keep. The leased alert duty turns
each pending alert into a Flag (on the product) and a Task for the pharmacy role, written with ids made
from the alert's, so a round repeated after a crash writes the same two resources again, not new ones.

Expiring lots: once a day the expiry duty writes one Task listing the lots on hand that expire within
`stock_expiry_days` (id `stock-expiry-<date>`: the same Task however often the round runs that day).

Email: `alert_email` builds the message of each alert for `stock_alert_email`; the duty queues it in the
messaging outbox (fhir_server/messaging) under the alert's id, before marking the alert raised, so a
round repeated after a crash queues the same key again: one email per alert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ...auth.policy import AccessPolicy
from ...engine import update_resource
from ...engine.identity import format_instant
from ...i18n import _
from ...messaging import queue_message
from ...storage.database import Database
from .model import Lot
from .queries import current

ALERTS_POLICY = AccessPolicy.system("stock-alerts")
PHARMACY = {"coding": [{"system": "https://fhir-server.org/fhir/CodeSystem/role", "code": "pharmacy"}],
            "text": "pharmacy"}  # fmt: skip
_BATCH = 100
_MOST_LOTS = 1_000_000


@dataclass(frozen=True)
class AlertEmail:
    """A message for the messaging outbox."""

    to: str
    subject: str
    body: str

    def document(self) -> dict[str, str]:
        return {"to": self.to, "subject": self.subject, "body": self.body}


def alert_email(to: str, subject: str, body: str) -> AlertEmail | None:
    """THE place an alert becomes an email: the message to queue (None when no address is configured)."""
    return AlertEmail(to, subject, body) if to else None


async def _queue_email(database: Database, key: str, message: AlertEmail | None) -> dict[str, str] | None:
    """Hand the alert's email to the outbox under `key` (queued once however often this runs); what was queued."""
    if message is None:
        return None
    await queue_message(database, key=key, channel="email", to=message.to, subject=message.subject, text=message.body)
    return message.document()


def _id(prefix: str, key: str) -> str:
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


def _name(resource: dict[str, Any] | None, reference: str) -> str:
    if resource is None:
        return reference
    text = resource.get("name") or (resource.get("code") or {}).get("text")
    codings = (resource.get("code") or {}).get("coding") or []
    return str(text or (codings[0].get("display") if codings else None) or reference)


async def raise_low_stock(database: Database, email_to: str, at: datetime) -> int:
    """Turn the pending low-stock alerts into a Flag and a Task each (and an email); how many were raised."""
    store, ledger = database.resources, database.stock
    raised = 0
    for alert in await ledger.pending_alerts(_BATCH):
        product, location = alert["product"], alert["location"]
        words = _("Low stock: {product} at {location} is down to {balance} (reorder point {point}).").format(
            product=_name(await current(store, product), product),
            location=_name(await current(store, location), location),
            balance=alert["balance"],
            point=alert["point"],
        )
        flag = {
            "resourceType": "Flag", "status": "active",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category",
                                      "code": "admin", "display": "Administrative"}]}],
            "code": {"text": words}, "subject": {"reference": product},
            "period": {"start": format_instant(alert["at"])},
        }  # fmt: skip
        task = {
            "resourceType": "Task", "status": "requested", "intent": "order", "priority": "urgent",
            "code": {"text": _("Reorder stock")}, "description": words, "focus": {"reference": product},
            "location": {"reference": location}, "authoredOn": format_instant(alert["at"]),
            "performerType": [PHARMACY],
        }  # fmt: skip
        resource_id = _id("stock-low", alert["id"])
        await update_resource(store, ALERTS_POLICY, "Flag", resource_id, {**flag, "id": resource_id})
        await update_resource(store, ALERTS_POLICY, "Task", resource_id, {**task, "id": resource_id})
        email = await _queue_email(database, resource_id, alert_email(email_to, _("Low stock"), words))
        await ledger.mark_raised(alert["id"], at, email)
        raised += 1
    return raised


async def report_expiring(database: Database, days: int, email_to: str, at: datetime) -> list[tuple[Lot, str, Any]]:
    """Write today's Task listing the lots on hand expiring within `days` (none when there are none), and email it."""
    store, ledger = database.resources, database.stock
    today = at.date()
    task_id = f"stock-expiry-{today.strftime('%Y%m%d')}"
    if await current(store, f"Task/{task_id}") is not None:
        return []  # today's report is written
    horizon = today + timedelta(days=days)
    rows = [row for row in await ledger.lot_balances({}, _MOST_LOTS) if row["lotBalance"] > 0]
    lots: dict[str, Lot | None] = {}
    for start in range(0, len(rows), _BATCH):
        found = await store.get_many(sorted({row["lot"] for row in rows[start : start + _BATCH]}))
        lots.update((record.reference, Lot.of(record.resource())) for record in found)
    expiring: list[tuple[Lot, str, Any]] = []
    for row in rows:
        lot = lots.get(row["lot"])
        if lot is not None and lot.expiry is not None and lot.expiry <= horizon:
            expiring.append((lot, row["location"], row["lotBalance"]))
    if not expiring:
        return []
    expiring.sort(key=lambda item: (item[0].expiry or date.max, item[0].number))
    lines = [
        _("Lot {lot} of {product} at {location}: {quantity} on hand, expires {date}.").format(
            lot=lot.number, product=lot.product, location=where, quantity=quantity, date=lot.expiry
        )
        for lot, where, quantity in expiring
    ]
    title = _("Lots expiring within {days} days").format(days=days)
    task = {
        "resourceType": "Task", "status": "requested", "intent": "order", "code": {"text": title},
        "description": "\n".join(lines), "authoredOn": format_instant(at), "performerType": [PHARMACY],
        "input": [{"type": {"text": "lot"}, "valueReference": {"reference": item[0].reference}} for item in expiring],
    }  # fmt: skip
    await update_resource(store, ALERTS_POLICY, "Task", task_id, {**task, "id": task_id})
    email = await _queue_email(database, task_id, alert_email(email_to, title, "\n".join(lines)))
    await ledger.record_report(task_id, at, email)
    return expiring
