"""Helpers for the MLLP tests: a small real mapper, a listener on a fresh database, an MLLP client."""

from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from adapters.hl7v2.framing import FrameDecoder, frame
from adapters.hl7v2.listener import ListenerSettings, start_listener
from fhir_server.config import Settings
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from fhir_server.storage.database import Database
from fhir_server.storage.hl7_messages import MessageStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "hl7v2"


@dataclass
class MappingError:
    code: str
    location: str
    text: str
    severity: str = "E"
    supported: bool = True


@dataclass
class MappingResult:
    bundle: dict[str, Any] | None
    errors: list[MappingError] = field(default_factory=list)


def _fields(message: str, name: str) -> list[list[str]]:
    return [s.split("|") for s in message.split("\r") if s.startswith(name + "|")]


def small_mapper(message: str, options: Any = None) -> MappingResult:
    """ADT^A01/A04/A08 -> Patient; ORU^R01 -> Patient + one Observation per OBX. PID-8 'X!' makes the engine fail."""
    msh = _fields(message, "MSH")[0]
    kind, event = (msh[8].split("^") + ["", ""])[:2]
    if kind not in {"ADT", "ORU"}:
        return MappingResult(None, [MappingError("200", "MSH^1^9", f"{kind} messages are not supported", "E", False)])
    if kind == "ADT" and event not in {"A01", "A04", "A08"}:
        return MappingResult(None, [MappingError("201", "MSH^1^9", f"ADT^{event} is not supported", "E", False)])
    pids = _fields(message, "PID")
    if not pids or not pids[0][3:4] or not pids[0][3]:
        return MappingResult(None, [MappingError("101", "PID^1^3", "PID-3 (patient identifier) is missing")])
    pid = pids[0] + [""] * 10
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"value": pid[3].split("^")[0]}],
        "name": [{"family": pid[5].split("^")[0]}],
    }
    if pid[8]:
        patient["gender"] = {"M": "male", "F": "female"}.get(pid[8], pid[8])
    entries = [{"fullUrl": "urn:uuid:p", "resource": patient, "request": {"method": "POST", "url": "Patient"}}]
    for obx in _fields(message, "OBX"):
        obx += [""] * 12
        observation = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": obx[3].split("^")[1] or obx[3].split("^")[0] if "^" in obx[3] else obx[3]},
            "subject": {"reference": "urn:uuid:p"},
            "valueString": obx[5] or "-",
        }
        entries.append({"resource": observation, "request": {"method": "POST", "url": "Observation"}})
    warnings = [MappingError("102", "PID^1^7", "PID-7 is not a date", "W")] if pid[7] == "NODATE" else []
    return MappingResult({"resourceType": "Bundle", "type": "transaction", "entry": entries}, warnings)


@dataclass
class Running:
    """A listener on a fresh database, with the port and the message store."""

    port: int
    database: Database
    server: asyncio.Server

    @property
    def store(self) -> MongoResourceStore:
        return self.database.resources

    @property
    def messages(self) -> MessageStore:
        return self.database.hl7_messages


def database_of(store: MongoResourceStore) -> Database:
    """Every store on `store`'s client and database, as the server's composition root builds them."""
    return Database.build(store.client, Settings(database=store.database_name))


@asynccontextmanager
async def listening(
    database: EmbeddedDatabase, mapper: Any = small_mapper, name: str | None = None, **settings: Any
) -> AsyncIterator[Running]:
    """A listener with its own pipeline on a fresh database (or on database `name`, to share one)."""
    store = MongoResourceStore.connect(database.uri, name or f"hl7_{uuid.uuid4().hex[:10]}")
    built = database_of(store)
    await built.ensure_indexes()
    config = replace(ListenerSettings(port=0), **settings)
    server = await start_listener(built, config, mapper)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Running(port, built, server)
    finally:
        server.close()
        await server.wait_closed()
        await store.client.drop_database(store.database_name)
        await store.close()


class Client:
    """A minimal MLLP peer that can misbehave on purpose (raw writes)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder()
        self.pending: list[bytes] = []

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, message: str | bytes, encoding: str = "utf-8") -> str:
        payload = message.encode(encoding) if isinstance(message, str) else message
        await self.write(frame(payload))
        return await self.receive(encoding)

    async def receive(self, encoding: str = "utf-8", timeout: float = 10) -> str:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("closed")
            self.pending += self.decoder.feed(data)
        return self.pending.pop(0).decode(encoding)

    async def closed_by_server(self, timeout: float = 10) -> bool:
        try:
            return await asyncio.wait_for(self.reader.read(65536), timeout) == b""
        except ConnectionError:
            return True

    async def close(self) -> None:
        self.writer.close()
        with suppress(ConnectionError):
            await self.writer.wait_closed()


def segment(ack: str, name: str) -> list[str]:
    """The fields of the first `name` segment of an ACK (index = field number)."""
    for line in ack.split("\r"):
        if line.startswith(name + "|"):
            fields = line.split("|")
            return ["MSH", "|", *fields[1:]] if name == "MSH" else fields
    raise AssertionError(f"no {name} in {ack!r}")


def msg(control: str = "C1", kind: str = "ADT^A01", *, app: str = "LAB", extra_msh: str = "", pid: str = "") -> str:
    """A small ADT/ORU message (CR-separated)."""
    header = f"MSH|^~\\&|{app}|LABFAC|FHIR|CLINIC|20240101120000||{kind}|{control}|P|2.5.1{extra_msh}"
    pid_segment = pid or "PID|1||MRN1^^^H^MR||Doe^Jane||19800101|F"
    return "\r".join([header, "EVN|A01|20240101120000", pid_segment]) + "\r"


def mllp_send_command() -> str:
    """python-hl7's `mllp_send`, installed beside this interpreter (the venv need not be on PATH)."""
    beside = Path(sys.executable).parent / "mllp_send"
    found = str(beside) if beside.exists() else shutil.which("mllp_send")
    assert found, "python-hl7 (the `hl7` test dependency) provides mllp_send"
    return found
