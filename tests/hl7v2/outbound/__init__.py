"""Helpers for the outbound order tests: a test lab (a real asyncio MLLP server), lab resources, a sender."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from adapters.hl7v2.framing import FrameDecoder, frame
from adapters.hl7v2.outbound import LinkSettings, OutboxEntry, OutboxStore, SenderSettings, start_sending
from fhir_server.engine import create_resource, read_resource, update_resource
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.database import Database
from fhir_server.storage.embedded import free_loopback_port
from tests.conftest import TEST_POLICY
from tests.hl7v2 import database_of

FAST = SenderSettings(LinkSettings(connect_timeout=2, ack_timeout=2), poll=0.02, backoff=0.05, max_backoff=0.2)
"""Short backoffs so a retry takes a fraction of a second; timeouts a loaded machine still meets."""
IMPATIENT = replace(FAST, link=LinkSettings(connect_timeout=2, ack_timeout=0.8))
"""For labs that stay silent on purpose: each silence costs one ACK timeout."""
CONNECTION = {"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type", "code": "hl7v2-mllp"}
STRUCTURES = "http://terminology.hl7.org/CodeSystem/v2-0354"
LOINC_GLUCOSE = {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]}


def fields(message: str, name: str) -> list[str]:
    """The fields of the first `name` segment (index = field number; MSH-1 is the separator)."""
    for line in message.split("\r"):
        if line.startswith(name + "|"):
            parts = line.split("|")
            return ["MSH", "|", *parts[1:]] if name == "MSH" else parts
    raise AssertionError(f"no {name} in {message!r}")


class TestLab:
    """A lab's MLLP receiver. `answers` says how to answer the n-th message (the last one repeats):
    AA, AE, AR, `wrong` (AA for another MSH-10), `none` (no answer) or `hang up` (close the connection
    without an answer). `hang_up_after` closes each
    connection after that many messages (once answered); `connections[n]` numbers the connection
    the n-th message came on (1, 2, ...)."""

    __test__ = False

    def __init__(self, *answers: str, hang_up_after: int | None = None) -> None:
        self.answers = list(answers) or ["AA"]
        self.hang_up_after = hang_up_after
        self.received: list[str] = []
        self.connections: list[int] = []
        self.opened = 0
        self.closed = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0, ssl: Any = None) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", port, ssl=ssl)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        self.opened += 1
        number, count = self.opened, 0
        try:
            while data := await reader.read(65536):
                for payload in decoder.feed(data):
                    message = payload.decode()
                    answer = self.answers[min(len(self.received), len(self.answers) - 1)]
                    self.received.append(message)
                    self.connections.append(number)
                    count += 1
                    if answer == "hang up":
                        return
                    if answer != "none":
                        writer.write(frame(self.ack(message, answer).encode()))
                        await writer.drain()
                    if self.hang_up_after is not None and count >= self.hang_up_after:
                        return
        except ConnectionError:
            pass
        finally:
            self.closed += 1
            writer.close()

    @staticmethod
    def ack(message: str, answer: str) -> str:
        control = fields(message, "MSH")[10]
        code, answered = ("AA", "someone-else") if answer == "wrong" else (answer, control)
        err = "" if code == "AA" else "\rERR|||101^Required field missing^HL70357|E||||Specimen source is required"
        return f"MSH|^~\\&|LAB|LABFAC|FHIR|CLINIC|20240101120000||ACK^O21^ACK|L{uuid.uuid4().hex[:8]}|P|2.5.1\r" + (
            f"MSA|{code}|{answered}{err}\r"
        )


@dataclass
class World:
    """A fresh database with the sender running against it."""

    store: MongoResourceStore
    outbox: OutboxStore
    database: Database

    async def lab(self, port: int, *, structure: str = "OML_O21", **endpoint: Any) -> str:
        """An Organization with an MLLP Endpoint at 127.0.0.1:port; returns `Organization/id`."""
        body = {
            "resourceType": "Endpoint", "status": "active", "connectionType": CONNECTION,
            "payloadType": [{"coding": [{"system": STRUCTURES, "code": structure}]}],
            "address": f"mllp://127.0.0.1:{port}", "header": ["MSH-5: CITYLAB", "MSH-6: CITYLABFAC"], **endpoint,
        }  # fmt: skip
        saved = await create_resource(self.store, TEST_POLICY, "Endpoint", body)
        organization = {
            "resourceType": "Organization",
            "name": "City Lab",
            "endpoint": [{"reference": saved.record.reference}],
        }
        return (await create_resource(self.store, TEST_POLICY, "Organization", organization)).record.reference

    async def order(self, lab: str, **extra: Any) -> str:
        """A Patient and an active ServiceRequest for `lab`; returns `ServiceRequest/id`."""
        patient = {
            "resourceType": "Patient", "identifier": [{"system": "urn:oid:1.2.3.4", "value": "MRN-7"}],
            "name": [{"family": "Doe", "given": ["Jane", "Q"]}], "gender": "female", "birthDate": "1980-02-03",
        }  # fmt: skip
        saved = await create_resource(self.store, TEST_POLICY, "Patient", patient)
        request = {
            "resourceType": "ServiceRequest", "status": "active", "intent": "order", "code": LOINC_GLUCOSE,
            "subject": {"reference": saved.record.reference}, "performer": [{"reference": lab}], **extra,
        }  # fmt: skip
        return (await create_resource(self.store, TEST_POLICY, "ServiceRequest", request)).record.reference

    async def change(self, service_request: str, **changes: Any) -> None:
        """Update the ServiceRequest with `changes` (None removes an element)."""
        resource_id = service_request.split("/")[1]
        body = (await read_resource(self.store, TEST_POLICY, "ServiceRequest", resource_id)).resource()
        body.update(changes)
        body = {k: v for k, v in body.items() if v is not None}
        await update_resource(self.store, TEST_POLICY, "ServiceRequest", resource_id, body)

    async def entries(self, service_request: str) -> list[OutboxEntry]:
        return await self.outbox.of_order(service_request)

    async def until(
        self, service_request: str, check: Callable[[list[OutboxEntry]], bool], timeout: float = 10
    ) -> list[OutboxEntry]:
        """The order's entries once `check` accepts them; fails after `timeout` seconds."""
        return await until(lambda: self.entries(service_request), check, timeout)


async def until(read: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await read()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r}")
        await asyncio.sleep(0.02)


def statuses(entries: list[OutboxEntry]) -> list[str]:
    return [e.status for e in entries]


@asynccontextmanager
async def world(database: EmbeddedDatabase, settings: SenderSettings = FAST) -> AsyncIterator[World]:
    """A fresh database, its outbox and a running sender (which also queues this process's orders)."""
    store = MongoResourceStore.connect(database.uri, f"out_{uuid.uuid4().hex[:10]}")
    built = database_of(store)
    await built.ensure_indexes()
    sending = start_sending(built, settings)
    try:
        yield World(store, built.hl7_outbox, built)
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        await store.client.drop_database(store.database_name)
        await store.close()


def spare_port() -> int:
    """A loopback port nothing listens on (yet)."""
    return free_loopback_port()
