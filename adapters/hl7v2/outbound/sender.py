"""The sender: workers that claim due outbox entries, build, send and acknowledge lab orders.

Retry policy, per entry:
- lab unreachable (refused, timeout, TLS, dropped): `retrying`, due again after a backoff that
  doubles from `backoff` up to `max_backoff` (with +-10 % jitter); forever, never lost.
- sent but no ACK within `ack_timeout`, or only ACKs whose MSA-2 is not our MSH-10: the same, and
  the next attempt sends the same text with the same MSH-10, so a lab that got it can drop the copy.
- AA (CA): `acknowledged`. AE/AR (CE/CR): `failed` with the lab's text, and a Task flags the
  ServiceRequest; never retried. An order that cannot be built (no Patient, no code, lab
  misconfigured) is failed and flagged the same way.

Order per ServiceRequest, across any number of workers and processes: an entry is sent only once
every earlier entry of its ServiceRequest is settled (acknowledged, failed or withdrawn), so an
XO, HD, RL or CA never overtakes the NW before it. An earlier entry that never left (no
transmission, no lease) is withdrawn instead of waited for: the later version replaces it (a
cancel withdraws the order it cancels). Then `sequence.settle_control` picks what is sent, from
what the lab acknowledged; an entry with nothing left to tell is withdrawn.

Connections: one per lab per process (`client.Links`), one message at a time on it; a reused
connection the lab had closed is replaced at once, for the same message.
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
from fhir_server.storage.database import Database
from fhir_server.storage.hl7_outbox import (
    ACKNOWLEDGED,
    CANCEL,
    FAILED,
    NEW_ORDER,
    PENDING,
    RETRYING,
    SENT,
    WITHDRAWN,
    OutboxEntry,
)  # fmt: skip

from ..ack import new_control_id
from .client import LabUnreachable, Link, Links, LinkSettings
from .flag import flag_order
from .gather import current_lab, gather_order, patient_of, placer_of, record_placer, request_version
from .lab import Lab, LabConfigError
from .message import OrderError, OrderSettings, order_message
from .observer import order_queue
from .reply import read_reply
from .sequence import last_taken, settle_control

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
    """Entries one process sends at once (to different labs; one lab's connection takes one at a time)."""
    orders: OrderSettings = field(default_factory=OrderSettings)

    @property
    def lease(self) -> timedelta:
        """Long enough to wait for the lab's connection behind the other workers, connect (twice), send and
        wait for the ACK; a dead worker's entry is retaken after it."""
        exchange = 2 * self.link.connect_timeout + self.link.ack_timeout
        return timedelta(seconds=(max(self.concurrency, 1) + 1) * exchange + 10)

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
        idle_timeout=settings.hl7_idle_seconds,
    )
    orders = OrderSettings(settings.hl7_sending_facility, settings.hl7_placer_length)
    return SenderSettings(
        link, backoff=settings.hl7_retry_seconds, max_backoff=settings.hl7_retry_max_seconds, orders=orders
    )


class Sender:
    """Delivers outbox entries of one database."""

    def __init__(self, database: Database, settings: SenderSettings) -> None:
        self.store = database.resources
        self.settings = settings
        self.outbox = database.hl7_outbox
        self.links = Links(settings.link)

    async def run(self) -> None:
        """Forever: claim due entries and deliver them (`concurrency` at a time); close idle connections."""
        workers = (self._work(uuid.uuid4().hex) for _ in range(max(self.settings.concurrency, 1)))
        try:
            await asyncio.gather(self._close_idle_links(), *workers)
        finally:
            await self.links.close()

    async def _close_idle_links(self) -> None:
        while True:
            await asyncio.sleep(min(self.settings.link.idle_timeout / 2, 5.0))
            await self.links.close_idle()

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
        """Send one claimed entry and record the outcome (or give it back when its turn has not come)."""
        earlier = await self._its_turn(entry, worker)
        if earlier is None:
            return
        try:
            lab = await current_lab(self.store, entry.lab)
            if entry.message is None and not await self._prepare(entry, worker, lab, earlier):
                return
        except (LabConfigError, OrderError) as exc:
            await self._fail(entry, worker, str(exc))
            return
        assert entry.message is not None and entry.control_id is not None
        await self._transmit(entry, worker, lab)

    async def _its_turn(self, entry: OutboxEntry, worker: str) -> list[OutboxEntry] | None:
        """The earlier entries of the order, all settled; None when the entry was replaced or must wait."""
        entries = await self.outbox.of_order(entry.service_request)
        earlier = [e for e in entries if e.version < entry.version]
        later = [e for e in entries if e.version > entry.version and e.status in PENDING]
        moment = now()
        if later and entry.transmissions == 0:
            note = _("Replaced by version {version} before it was sent.").format(version=later[0].version)
            await self.outbox.record(entry, worker, WITHDRAWN, moment, note=note)
            return None
        waiting = []
        for before in earlier:
            if before.status not in PENDING:
                continue
            note = (
                _("Cancelled before it was sent.")
                if entry.control == CANCEL
                else _("Replaced by version {version} before it was sent.").format(version=entry.version)
            )
            if before.transmissions == 0 and await self.outbox.withdraw(before.id, moment, note):
                before.status = WITHDRAWN
            else:
                waiting.append(before)
        if waiting:  # an earlier message is on its way (or held by a worker): after it
            due = max([moment + timedelta(seconds=self.settings.poll), *(e.due for e in waiting)])
            await self.outbox.postpone(entry, worker, due)
            return None
        return earlier

    async def _prepare(self, entry: OutboxEntry, worker: str, lab: Lab, earlier: list[OutboxEntry]) -> bool:
        """Settle the control, build the message once and store it with its MSH-10 (False: nothing to send, or the
        lease was lost meanwhile)."""
        taken = last_taken(earlier)
        body = await request_version(self.store, entry.service_request, entry.version)
        taken_body = await request_version(self.store, entry.service_request, taken.version) if taken else None
        control, why = settle_control(entry.control, earlier, body, taken_body)
        if control is None:
            await self.outbox.record(entry, worker, WITHDRAWN, now(), note=why)
            return False
        version, placer = entry.version, None
        if control == CANCEL and taken is not None:
            version = taken.version  # the order as the lab has it
        if control != NEW_ORDER:
            orders = [e for e in earlier if e.control == NEW_ORDER and e.status == ACKNOWLEDGED and e.placer]
            placer = orders[-1].placer if orders else None
        data = await gather_order(self.store, entry.service_request, version)
        fresh = False
        if placer is None:
            placer, fresh = await placer_of(self.store, data.service_request, self.settings.orders)
        control_id = new_control_id()
        message = order_message(data, lab, control, control_id, placer, now(), self.settings.orders)
        if not await self.outbox.prepare(entry, worker, control, control_id, message, placer):
            return False
        if fresh:
            await record_placer(self.store, entry.service_request, placer)
        return True

    async def _transmit(self, entry: OutboxEntry, worker: str, lab: Lab) -> None:
        assert entry.message is not None
        control_id = entry.control_id
        try:
            exchange = await self._exchange(entry, worker, lab)
        except LabUnreachable as exc:
            await self._retry(entry, worker, str(exc))
            return
        if exchange is None:
            return  # the lease went to another worker
        answer, refused = exchange
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

    async def _exchange(self, entry: OutboxEntry, worker: str, lab: Lab) -> tuple[bytes | None, list[bytes]] | None:
        """Send the message on the lab's connection and wait for its ACK: (the ACK or None, other frames read).

        None when the lease was lost. Raises LabUnreachable. A reused connection the lab had closed meanwhile
        (an idle timeout on its side) is replaced once, at once, for the same message.
        """
        assert entry.message is not None
        payload, control_id = entry.message.encode("utf-8"), entry.control_id
        for attempt in range(2):
            async with self.links.use(lab) as (link, fresh):
                if not await self.outbox.record(entry, worker, SENT, now(), keep_lease=True):
                    return None
                try:
                    await link.send(payload)
                except LabUnreachable:
                    if fresh or attempt:
                        raise
                    continue
                answer, refused = await link.reply(
                    lambda frame: (reply := read_reply(frame)) is not None and reply.control_id == control_id,
                    self.settings.link.ack_timeout,
                )
                if answer is None or refused:  # the connection's state is unknown: never reuse it
                    dropped = _dropped(link, answer, refused)
                    await link.close()
                    if dropped and not fresh and attempt == 0:
                        continue
                return answer, refused
        raise AssertionError("unreachable")  # pragma: no cover

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


def _dropped(link: Link, answer: bytes | None, refused: list[bytes]) -> bool:
    """Whether the lab closed the connection without answering at all (rather than staying silent)."""
    return answer is None and not refused and link.lost


def start_sending(database: Database, settings: SenderSettings | None = None) -> asyncio.Task[None]:
    """Queue orders from this process's writes from now on, and send them; cancel the task to stop both.

    The observer is registered before this returns, so no write after it escapes the outbox (whose
    collection and indexes the Database made, so the write transactions insert into an existing one).
    """
    observer = order_queue(database.hl7_outbox)
    add_write_observer(observer)
    task = asyncio.create_task(Sender(database, settings or SenderSettings()).run())
    task.add_done_callback(lambda _task: remove_write_observer(observer))
    return task
