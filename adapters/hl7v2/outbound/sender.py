"""The sender: workers that claim due outbox entries, build, send and acknowledge lab orders.

Retry policy, per entry:
- lab unreachable (refused, timeout, TLS, dropped): `retrying`, due again after a backoff that
  doubles from `backoff` up to `max_backoff` (with +-10 % jitter); forever, never lost.
- sent but no ACK within `ack_timeout`, or only ACKs whose MSA-2 is not our MSH-10: the same, and
  the next attempt sends the same text with the same MSH-10, so a lab that got it can drop the copy.
- AA (CA): `acknowledged`. AE/AR (CE/CR): `failed` with the lab's text, and a Task flags the
  ServiceRequest; never retried. An order that cannot be built (no Patient, no code, lab
  misconfigured) is failed and flagged the same way.
- a cancel (CA) waits for its order: sent once the order is acknowledged, dropped (`withdrawn`)
  when the order never left or was refused; an order that never left is withdrawn too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from fhir_server.config import Settings
from fhir_server.engine.identity import now
from fhir_server.engine.observers import add_write_observer, remove_write_observer
from fhir_server.i18n import _
from fhir_server.storage import MongoResourceStore

from ..ack import new_control_id
from .client import LabUnreachable, LinkSettings, connect
from .flag import flag_order
from .gather import current_lab, gather_order, patient_of, placer_of, record_placer
from .lab import Lab, LabConfigError
from .message import OrderError, order_message
from .observer import queue_orders
from .outbox import (
    ACKNOWLEDGED,
    CANCEL,
    FAILED,
    NEW_ORDER,
    RETRYING,
    SENT,
    WITHDRAWN,
    OutboxEntry,
    OutboxStore,
)  # fmt: skip
from .reply import read_reply

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderSettings:
    """How often and how patiently orders are sent."""

    link: LinkSettings = field(default_factory=LinkSettings)
    poll: float = 1.0
    """Seconds between looks at the outbox when nothing is due."""
    backoff: float = 5.0
    """Seconds before the first retry; doubled per failed try."""
    max_backoff: float = 300.0
    concurrency: int = 2
    """Entries one process sends at once (each on its own connection)."""

    @property
    def lease(self) -> timedelta:
        """Long enough for a connection, a send and the ACK wait; a dead worker's entry is retaken after it."""
        return timedelta(seconds=2 * (self.link.connect_timeout + self.link.ack_timeout) + 10)

    def retry_delay(self, tries: int) -> timedelta:
        """The wait after the `tries`-th failed try."""
        seconds = min(self.max_backoff, self.backoff * 2 ** max(tries - 1, 0))
        return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


def sender_settings(settings: Settings) -> SenderSettings:
    """The sender's settings from the server's (`FHIR_HL7_*`)."""
    link = LinkSettings(
        connect_timeout=settings.hl7_connect_timeout,
        ack_timeout=settings.hl7_ack_timeout,
        cafile=str(settings.hl7_tls_cafile) if settings.hl7_tls_cafile else None,
    )
    return SenderSettings(link, backoff=settings.hl7_retry_seconds, max_backoff=settings.hl7_retry_max_seconds)


class Sender:
    """Delivers outbox entries of one database."""

    def __init__(self, store: MongoResourceStore, settings: SenderSettings) -> None:
        self.store = store
        self.settings = settings
        self.outbox = OutboxStore(store)

    async def run(self) -> None:
        """Forever: claim due entries and deliver them (`concurrency` at a time)."""
        await asyncio.gather(*(self._work(uuid.uuid4().hex) for _ in range(max(self.settings.concurrency, 1))))

    async def _work(self, worker: str) -> None:
        while True:
            try:
                entry = await self.outbox.claim(worker, now(), self.settings.lease)
            except Exception:  # the database may be away for a moment
                log.exception("hl7 outbox unreachable")
                await asyncio.sleep(self.settings.poll * 4)
                continue
            if entry is None:
                await asyncio.sleep(self.settings.poll)
                continue
            try:
                await self.deliver(entry, worker)
            except Exception as exc:  # a bug or a database blip must not stop the worker
                log.exception("hl7 order delivery failed", extra={"entry": entry.id})
                note = _("Internal error: {problem}").format(problem=type(exc).__name__)
                with contextlib.suppress(Exception):  # without the database the lease runs out instead
                    await self._retry(entry, worker, note)

    async def deliver(self, entry: OutboxEntry, worker: str) -> None:
        """Send one claimed entry and record the outcome."""
        if entry.control == CANCEL and not await self._order_settled(entry, worker):
            return
        try:
            lab = await current_lab(self.store, entry.lab)
            if entry.message is None and not await self._prepare(entry, worker, lab):
                return
        except (LabConfigError, OrderError) as exc:
            await self._fail(entry, worker, str(exc))
            return
        assert entry.message is not None and entry.control_id is not None
        await self._transmit(entry, worker, lab)

    async def _prepare(self, entry: OutboxEntry, worker: str, lab: Lab) -> bool:
        """Build the message once and store it with its MSH-10 (False: the lease was lost meanwhile)."""
        version, placer = entry.version, None
        if entry.control == CANCEL:
            order = await self._order_of(entry)
            if order is not None:
                version, placer = order.version, order.placer
        data = await gather_order(self.store, entry.service_request, version)
        fresh = False
        if placer is None:
            placer, fresh = placer_of(data.service_request)
        control_id = new_control_id()
        message = order_message(data, lab, entry.control, control_id, placer, now())
        if not await self.outbox.prepare(entry, worker, control_id, message, placer):
            return False
        if fresh:
            await record_placer(self.store, entry.service_request, placer)
        return True

    async def _transmit(self, entry: OutboxEntry, worker: str, lab: Lab) -> None:
        assert entry.message is not None
        control_id = entry.control_id
        try:
            async with connect(lab, self.settings.link) as link:
                if not await self.outbox.record(entry, worker, SENT, now(), keep_lease=True):
                    return
                await link.send(entry.message.encode("utf-8"))
                answer, refused = await link.reply(
                    lambda payload: (reply := read_reply(payload)) is not None and reply.control_id == control_id,
                    self.settings.link.ack_timeout,
                )
        except LabUnreachable as exc:
            await self._retry(entry, worker, str(exc))
            return
        reply = read_reply(answer) if answer is not None else None
        if reply is None:
            note = _("No ACK within {seconds} s.").format(seconds=self.settings.link.ack_timeout)
            others = [r.control_id for r in (read_reply(p) for p in refused) if r is not None]
            if others:
                note += " " + _("ACKs for other messages were ignored (MSA-2 {ids}, expected {id}).").format(
                    ids=", ".join(others), id=control_id
                )
            await self._retry(entry, worker, note)
        elif reply.accepted:
            await self.outbox.record(entry, worker, ACKNOWLEDGED, now(), ack=reply.raw)
            log.info("hl7 order acknowledged", extra={"entry": entry.id, "control_id": control_id})
        else:
            reason = _("The lab answered {code}: {text}").format(
                code=reply.code, text=reply.text or _("no reason given")
            )
            await self._fail(entry, worker, reason, ack=reply.raw)

    async def _retry(self, entry: OutboxEntry, worker: str, note: str) -> None:
        due = now() + self.settings.retry_delay(entry.tries + 1)
        await self.outbox.record(entry, worker, RETRYING, now(), note=note, due=due)
        log.info("hl7 order to retry", extra={"entry": entry.id, "problem": note, "due": due.isoformat()})

    async def _fail(self, entry: OutboxEntry, worker: str, reason: str, ack: str | None = None) -> None:
        """Flag the ServiceRequest with a Task first (idempotent), then stop the entry."""
        patient = await patient_of(self.store, entry.service_request, entry.version)
        task = await flag_order(self.store, entry.id, entry.service_request, patient, reason)
        await self.outbox.record(entry, worker, FAILED, now(), note=f"{reason} ({task})", ack=ack)
        log.warning("hl7 order failed", extra={"entry": entry.id, "problem": reason, "task": task})

    async def _order_of(self, entry: OutboxEntry) -> OutboxEntry | None:
        orders = [e for e in await self.outbox.of_order(entry.service_request) if e.control == NEW_ORDER]
        return orders[-1] if orders else None

    async def _order_settled(self, cancel: OutboxEntry, worker: str) -> bool:
        """Whether the cancel can go now (its order was acknowledged); otherwise it is withdrawn or postponed."""
        order = await self._order_of(cancel)
        if order is not None and order.status == ACKNOWLEDGED:
            return True
        moment = now()
        if order is None or order.status in (FAILED, WITHDRAWN):
            await self.outbox.record(cancel, worker, WITHDRAWN, moment, note=_("The lab never took the order."))
            return False
        if order.transmissions == 0 and await self.outbox.withdraw(
            order.id, moment, _("Cancelled before it was sent.")
        ):
            await self.outbox.record(cancel, worker, WITHDRAWN, moment, note=_("The order was withdrawn unsent."))
            return False
        await self.outbox.postpone(cancel, worker, moment + timedelta(seconds=self.settings.poll))
        return False


async def start_sending(store: MongoResourceStore, settings: SenderSettings | None = None) -> asyncio.Task[None]:
    """Queue orders from this process's writes from now on, and send them; cancel the task to stop both.

    The observer is registered before this returns, so no write after it escapes the outbox.
    """
    await OutboxStore(store).ensure_indexes()  # the write transactions then insert into an existing collection
    add_write_observer(queue_orders)
    task = asyncio.create_task(Sender(store, settings or SenderSettings()).run())
    task.add_done_callback(lambda _task: remove_write_observer(queue_orders))
    return task
