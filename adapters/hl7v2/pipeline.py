"""From a received frame to stored message, FHIR transaction and ACKs.

Per message: header checks (AR/CR on failure, among them a processing id this listener does not accept),
mapping by the injected mapper with local codes translated through stored ConceptMaps and the sender's rules
(`senders.py`: time zone, unstorable values refused or skipped; AR/CR for unsupported types), durable
storage with duplicate detection, the commit ack in enhanced mode, the transaction Bundle plus a Provenance through the
engine (`process_bundle`: all or nothing; two messages for one new patient, on any connection of any
process, create one Patient, as the transaction's conditional creates take a lock in the database),
then the application ack as MSH-15/16 ask. Every ACK is recorded before it is sent. Mapping warnings
(a local code without a LOINC mapping, a skipped value ...) go into the ACK as ERR segments with
severity W under AA, and into the message log entry.

A message is stored leased to this pipeline's process, which renews the lease while it processes it
(`leases.py`). One left `received` by a process that died is processed by whoever claims it first: a
resend of it (answered with the commit ack it had, then the application ack) or the recovery duty
(`recovery.py`; the application ack is then only recorded, as the connection it came on is gone).
Either way a message whose transaction had committed before the crash is not written again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from fhir_server.engine.bundle import process_bundle
from fhir_server.engine.identity import now
from fhir_server.errors import FhirError, InvalidRequest
from fhir_server.i18n import _
from fhir_server.storage import leases
from fhir_server.storage.database import Database
from fhir_server.storage.hl7_messages import ERROR, PROCESSED, RECEIVED, MessageRecord

from .access import HL7_POLICY
from .ack import batch_reply, build_ack
from .code_maps import ConceptMapCache
from .header import Header, HL7Error, bom_fragment, decode, parse_header, split
from .known_orders import KnownOrders, find_known_orders
from .mapping.model import MappingOptions, MappingResult
from .provenance import provenance_entry, written_by
from .senders import Reading

log = logging.getLogger(__name__)

Emit = Callable[[str], Awaitable[None]]
GIVE_UP_AT = 3
"""Processes that died holding one message after which it is not taken over again (it may be what kills
them): it ends in `error`, for `mllp reprocess`."""


Mapper = Callable[[str, MappingOptions], MappingResult]
"""`mapper(message, options)`: `adapters.hl7v2.mapping.map_message` or a stand-in with its shape."""


def _errors(result: MappingResult) -> list[HL7Error]:
    return [HL7Error(str(e.code), e.location, e.text, e.severity or "E") for e in result.errors]


def _wants(ack_type: str, failed: bool) -> bool:
    """Whether an enhanced-mode ack is sent: AL (the default when empty), NE, ER (errors only), SU (success only)."""
    kind = ack_type or "AL"
    return kind == "AL" or (kind == "ER" and failed) or (kind == "SU" and not failed)


class Pipeline:
    """Turns frames into stored messages, engine writes and ACKs; shared by every connection."""

    def __init__(
        self,
        database: Database,
        mapper: Mapper,
        base: str | None = None,
        code_maps: ConceptMapCache | None = None,
        reading: Reading | None = None,
    ) -> None:
        self.store = store = database.resources
        self.reading = reading or Reading()
        self.mapper = mapper
        self.base = base
        self.messages = database.hl7_messages
        self.code_maps = code_maps or ConceptMapCache(store)
        self.worker = leases.new_worker()
        """Who holds the leases of the messages this pipeline processes."""

    async def handle_frame(self, payload: bytes, send: Callable[[bytes], Awaitable[None]]) -> None:
        """Answer one MLLP frame: a message (ACKs sent as they happen) or a batch (one batch reply)."""
        decoded = decode(payload)

        async def send_text(text: str) -> None:
            await send(text.encode(decoded.codec, errors="replace"))

        if bom_fragment(decoded.text):
            await self._bom_fragment(send_text)
            return
        batch = split(decoded.text)

        if not batch.is_batch:
            message = batch.messages[0] if batch.messages else ""
            await self.handle_message(message, decoded.charset, decoded.errors, send_text)
            return
        replies: list[str] = []

        async def collect(text: str) -> None:
            replies.append(text)

        batch_id = str(uuid.uuid4())
        for message in batch.messages:
            await self.handle_message(message, decoded.charset, decoded.errors + batch.errors, collect, batch_id)
        comment = " ".join(e.text for e in batch.errors)
        if batch.errors:
            log.warning("hl7 batch count mismatch", extra={"batch": batch_id, "problem": comment})
        await send_text(batch_reply(replies, batch.envelope, now(), comment))

    async def handle_message(
        self, message: str, charset: str, notes: list[HL7Error], emit: Emit, batch_id: str | None = None
    ) -> None:
        """Check, store, process and acknowledge one message."""
        header, problems = parse_header(message, self.reading.processing_ids)
        problems = [*(n for n in notes if n.severity == "E"), *problems]
        warnings = [n for n in notes if n.severity != "E"]
        extra = {"batch": batch_id} if batch_id else {}
        if header is not None and header.message_type.startswith("ACK"):
            log.info("hl7 ack received and not answered", extra={"control_id": header.control_id})
            return
        if header is None or problems:
            await self._reject(message, header, charset, problems, emit, **extra)
            return
        result = await self._map(message, header)
        if result is not None and (unsupported := _unsupported(result)):
            await self._reject(message, header, charset, unsupported, emit, **extra)
            return
        try:
            message_id, original = await self.messages.add(
                message, header, charset, accepted=True, worker=self.worker, **extra
            )
        except FhirError as exc:
            await self._unstored(header, exc, emit)
            return
        if original is not None:
            await self._duplicate(original, header, emit)
            return
        if header.enhanced:
            await self._commit_ack(message_id, header, warnings, emit)
        await self._process(message_id, message, header, result, warnings, emit)

    async def _bom_fragment(self, emit: Emit) -> None:
        """The BOM a sender split off in front of its first `MSH|` (`mllp_send --loose`): nothing to store;
        accepted with a note, since the sender waits for an answer before it sends the message itself."""
        log.info("hl7 lone byte order mark ignored")
        note = HL7Error("0", "MSH^1", _("A byte order mark sent on its own before the message was ignored."), "I")
        await emit(build_ack(None, "AA", [note], now()))

    async def _reject(
        self, raw: str, header: Header | None, charset: str, errors: list[HL7Error], emit: Emit, **extra: Any
    ) -> None:
        """AR (CR in enhanced mode): stored for the record, without the duplicate key, never processed."""
        enhanced = header is not None and header.enhanced
        ack = build_ack(header, "CR" if enhanced else "AR", errors, now(), application=False)
        text = " ".join(e.text for e in errors)
        try:
            message_id, _dup = await self.messages.add(
                raw, header, charset, accepted=False, status=ERROR, error=text, acks=[ack], **extra
            )
        except FhirError:
            log.exception("hl7 rejected message could not be stored")
        else:
            problems = [f"{e.code}@{e.location}" for e in errors]  # the texts may quote field values
            log.info("hl7 message rejected", extra={"message_id": message_id, "problems": problems})
        if not enhanced or header is None or _wants(header.accept_ack, failed=True):
            await emit(ack)

    async def _unstored(self, header: Header, exc: FhirError, emit: Emit) -> None:
        """The message could not be stored: AR/CE 207, the sender keeps it and sends it again later."""
        log.error("hl7 message not stored", extra={"control_id": header.control_id, "problem": str(exc)})
        error = HL7Error("207", "MSH^1", _("The message could not be stored; send it again later.") + f" {exc}")
        code = "CE" if header.enhanced else "AR"
        if not header.enhanced or _wants(header.accept_ack, failed=True):
            await emit(build_ack(header, code, [error], now(), application=False))

    async def _duplicate(self, original: MessageRecord, header: Header, emit: Emit) -> None:
        """A copy of a message already received: its original ACKs again, nothing processed twice; or, when
        the original's processor died before finishing it (its lease is free), the original processed now."""
        if original.status == RECEIVED and (taken := await self.messages.claim(original, self.worker, now())):
            await self._take_over(taken, header, emit)
            return
        for _attempt in range(20):
            if original.acks or original.status != RECEIVED:
                break
            await asyncio.sleep(0.1)  # the original is being processed right now, on another connection
            original = await self.messages.get(original.id) or original
        log.info("hl7 duplicate", extra={"message_id": original.id, "control_id": header.control_id})
        if original.acks:
            for ack in original.acks:
                await emit(ack)
            return
        if original.status == RECEIVED:
            busy = HL7Error("207", "MSH^1^10", _("This message is still being processed; send it again later."))
            await emit(build_ack(header, "CE" if header.enhanced else "AR", [busy], now(), application=False))
        elif not header.enhanced:  # the original asked for no ACK (NE); this copy asks for one
            failed = [HL7Error("207", "MSH^1", original.error)] if original.error else []
            await emit(build_ack(header, "AE" if failed else "AA", failed, now()))
        elif _wants(header.accept_ack, failed=False):
            await emit(build_ack(header, "CA", [], now(), application=False))

    async def _take_over(self, taken: MessageRecord, header: Header, emit: Emit) -> None:
        """Process, for its resend, a message whose processor died: the commit ack it was given, then the
        application ack (a commit ack first if it had none yet and the mode asks for one)."""
        log.info("hl7 message taken over", extra={"message_id": taken.id, "control_id": header.control_id})
        for ack in taken.acks:
            await emit(ack)
        if header.enhanced and not taken.acks:
            await self._commit_ack(taken.id, header, [], emit)
        await self._resume(taken, header, emit)

    async def recover(self, record: MessageRecord) -> None:
        """Process a message claimed from a processor that died; the application ack is recorded, not sent."""
        header, problems = parse_header(record.raw, self.reading.processing_ids)
        if header is None or problems:  # only a stored text changed by hand: it was accepted with this header
            await self.messages.finish(record.id, ERROR, error=" ".join(p.text for p in problems))
            return
        log.info("hl7 message recovered", extra={"message_id": record.id, "control_id": header.control_id})
        await self._resume(record, header, None)

    async def _resume(self, taken: MessageRecord, header: Header, emit: Emit | None) -> None:
        """Map and process a message taken over from a process that died (not even map one that took down
        `GIVE_UP_AT` of them)."""
        result = await self._map(taken.raw, header) if taken.claims < GIVE_UP_AT else None
        await self._process(taken.id, taken.raw, header, result, [], emit, claims=taken.claims)

    async def _commit_ack(self, message_id: str, header: Header, warnings: list[HL7Error], emit: Emit) -> None:
        if _wants(header.accept_ack, failed=False):
            ack = build_ack(header, "CA", warnings, now(), application=False)
            await self.messages.add_ack(message_id, ack)
            await emit(ack)

    async def _map(self, message: str, header: Header) -> MappingResult | None:
        """Map; then, if the message named code systems not (freshly) cached or orders this server may
        hold, load those ConceptMaps and look those orders up, and map again with what was found."""
        translate = self.code_maps.translator(header.sending_app)
        orders = KnownOrders()
        rules = self.reading.senders.of(header)
        options = MappingOptions(
            default_timezone=rules.timezone, accept_invalid=rules.accept_invalid, authorities=self.reading.authorities
        )
        result = self._run_mapper(message, replace(options, translate=translate, order_exists=orders))
        known = await find_known_orders(self.store, orders.asked) if orders.asked else set()
        if translate.missing or known:
            if translate.missing:
                await self.code_maps.load(translate.missing)
                translate = self.code_maps.translator(header.sending_app)
            orders = KnownOrders(known)
            result = self._run_mapper(message, replace(options, translate=translate, order_exists=orders))
        return result

    def _run_mapper(self, message: str, options: MappingOptions) -> MappingResult | None:
        """The mapper's result; None when it failed (a mapper bug must still end in an ACK)."""
        try:
            return self.mapper(message, options)
        except Exception:
            log.exception("hl7 mapper failed")
            return None

    async def _process(
        self,
        message_id: str,
        message: str,
        header: Header,
        result: MappingResult | None,
        warnings: list[HL7Error],
        emit: Emit | None,
        *,
        claims: int = 0,
    ) -> tuple[str, list[HL7Error]]:
        """Write the mapped message under its lease; record the outcome and the application ack; send it if the
        mode asks. `claims`: how many processes died holding it before (see `_outcome`)."""
        async with leases.renewed(lambda: self.messages.renew(message_id, self.worker)):
            errors, resources = await self._outcome(message_id, header, result, claims)
        code = "AE" if any(e.severity == "E" for e in errors) else "AA"
        text = " ".join(e.text for e in errors if e.severity == "E") or None
        notes = [e for e in [*warnings, *errors] if e.severity != "E"]
        send = not header.enhanced or _wants(header.app_ack, failed=code != "AA")
        ack = build_ack(header, code, [*warnings, *errors], now()) if send else None
        status = ERROR if code == "AE" else PROCESSED
        await self.messages.finish(message_id, status, error=text, resources=resources, warnings=notes, ack=ack)
        if ack is not None and emit is not None:
            await emit(ack)
        return code, errors

    async def _outcome(
        self, message_id: str, header: Header, result: MappingResult | None, claims: int
    ) -> tuple[list[HL7Error], list[str]]:
        """`_apply`'s outcome; but for a message taken over from a process that died, what its transaction
        wrote if that committed before the death (nothing is written twice), and an error once `GIVE_UP_AT`
        processes died holding it."""
        if claims:
            if (written := await written_by(self.store, message_id)) is not None:
                return [], written
            if claims >= GIVE_UP_AT:
                text = _("Processing this message was interrupted {count} times; it is not tried again by itself.")
                return [HL7Error("207", "MSH^1", text.format(count=claims))], []
        return await self._apply(message_id, header, result)

    async def _apply(
        self, message_id: str, header: Header, result: MappingResult | None
    ) -> tuple[list[HL7Error], list[str]]:
        """Mapping errors, or the engine's outcome of the transaction Bundle with the message's Provenance."""
        if result is None:
            return [HL7Error("207", "MSH^1", _("The message could not be converted (internal error)."))], []
        errors = _errors(result)
        if any(e.severity == "E" for e in errors):
            return errors, []
        if result.bundle is None:
            return [*errors, HL7Error("207", "MSH^1", _("The message produced no data to store."))], []
        bundle = {
            **result.bundle,
            "entry": [*result.bundle.get("entry", []), provenance_entry(result.bundle, message_id, header, now())],
        }
        try:
            _type, entries = await process_bundle(self.store, HL7_POLICY, bundle, self.base)
        except InvalidRequest as exc:
            return [*errors, HL7Error("207", "MSH^1", str(exc))], []
        except FhirError as exc:
            log.warning("hl7 engine error", extra={"message_id": message_id, "problem": str(exc)})
            return [*errors, HL7Error("207", "MSH^1", str(exc))], []
        except Exception:
            correlation = str(uuid.uuid4())
            log.exception("hl7 processing failed", extra={"message_id": message_id, "correlation_id": correlation})
            text = _("Internal error; correlation id {id}.").format(id=correlation)
            return [*errors, HL7Error("207", "MSH^1", text)], []
        refs = [f"{e.record.reference}/_history/{e.record.version_id}" for e in entries if e.record is not None]
        return errors, refs

    async def reprocess(self, message_id: str) -> MessageRecord:
        """Process a stored message again (status `error`); its new application ack is recorded, not sent."""
        record = await self.messages.get(message_id)
        if record is None:
            raise KeyError(message_id)
        if record.status == PROCESSED:
            return record
        header, problems = parse_header(record.raw, self.reading.processing_ids)
        if header is None or problems:
            raise ValueError(" ".join(p.text for p in problems))
        await self._process(message_id, record.raw, header, await self._map(record.raw, header), [], None)
        return await self.messages.get(message_id) or record


def _unsupported(result: MappingResult) -> list[HL7Error]:
    """The mapper's errors that reject the message type or event (table 0357: 200/201)."""
    return [HL7Error(str(e.code), e.location, e.text, "E") for e in result.errors if not e.supported]
