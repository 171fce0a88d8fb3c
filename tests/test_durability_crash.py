"""Nothing acknowledged is lost: `kill -9` of the server and its embedded database together, mid-load.

Every write answered 201/200 over REST, and every HL7 result answered AA over MLLP, is read back
after a restart on the same data directory. The clients (four REST clients; one lab connection,
sending its results in order as a lab does) write for a while, pause, and start again; the first
acknowledgement after the pause kills both processes at once, with the other clients' writes in
flight. A write that follows a quiet spell is the one an unsynced journal keeps longest in memory
(its background flush slows down when there is nothing to write): without a sync at each commit,
such a write was lost in every run (REST 7 of 7, HL7 4 of 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx

from adapters.hl7v2.framing import FrameDecoder, frame
from fhir_server.storage.embedded import free_loopback_port
from tests.conftest import FHIR_JSON, ServerProcess, new_patient
from tests.test_cli_serve import _alive, _children

CLIENTS = 4
LOAD_SECONDS = 2.0
QUIET_SECONDS = 1.5
OBX_SYSTEM = "urn:hl7v2:obx"


def _kill_with_database(server: ServerProcess) -> None:
    """SIGKILL the embedded database and then the server, back to back: neither shuts down cleanly."""
    database = _children(server.process.pid)
    assert database, "the server runs its embedded database as a child"
    for pid in [*database, server.process.pid]:
        os.kill(pid, signal.SIGKILL)
    server.process.wait()
    server.log.close()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in database) and time.monotonic() < deadline:
        time.sleep(0.05)


class Load:
    """Clients writing until the kill: load, a quiet spell, then the kill at the next acknowledgement."""

    def __init__(self, server: ServerProcess, clients: int) -> None:
        self.server, self.clients = server, clients
        self._going = asyncio.Event()
        self._armed = False

    async def next_write(self) -> None:
        """Wait while the clients are paused."""
        await self._going.wait()

    def acknowledged(self) -> None:
        """Called at once after an acknowledgement is recorded: the armed kill happens here."""
        if self._armed:
            self._armed = False
            _kill_with_database(self.server)

    async def run(self, client: Callable[[Load], Awaitable[None]]) -> None:
        self._going.set()
        clients = [asyncio.create_task(client(self)) for _ in range(self.clients)]
        await asyncio.sleep(LOAD_SECONDS)
        self._going.clear()
        await asyncio.sleep(QUIET_SECONDS)
        assert not any(task.done() for task in clients), [task.exception() for task in clients if task.done()]
        self._armed = True
        self._going.set()
        await asyncio.wait_for(asyncio.gather(*clients), timeout=60)
        assert self.server.process.poll() is not None, "the kill came after an acknowledgement"


def _pages(http: httpx.Client, url: str, params: dict[str, str]) -> Iterator[dict]:
    """The resources of every page of a search."""
    bundle = http.get(url, params=params).json()
    while True:
        yield from (entry["resource"] for entry in bundle.get("entry", ()))
        following = next((link["url"] for link in bundle.get("link", ()) if link["relation"] == "next"), None)
        if following is None:
            return
        bundle = http.get(following).json()


def _version(response: httpx.Response) -> int:
    """The version an ETag (`W/"3"`) acknowledges."""
    return int(response.headers["etag"].removeprefix('W/"').removesuffix('"'))


def test_acknowledged_rest_writes_survive_kill_9_of_server_and_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(["--data-dir", str(data_dir)], tmp_path / "server.log")
    acknowledged: dict[str, int] = {}

    async def write_patients(load: Load) -> None:
        """Create a Patient, update one of ours, repeat; record each acknowledged version."""
        mine: list[str] = []
        async with httpx.AsyncClient(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:
            for n in range(1_000_000):
                await load.next_write()
                try:
                    if n % 2 and mine:
                        resource_id = mine[n % len(mine)]
                        answer = await http.put(f"/Patient/{resource_id}", json=new_patient(f"U{n}", id=resource_id))
                        if answer.status_code == 200:
                            acknowledged[resource_id] = max(acknowledged[resource_id], _version(answer))
                    else:
                        answer = await http.post("/Patient", json=new_patient(f"C{n}"))
                        if answer.status_code == 201:
                            resource_id = answer.headers["location"].split("/_history/")[0].rsplit("/", 1)[1]
                            acknowledged[resource_id] = _version(answer)
                            mine.append(resource_id)
                except httpx.TransportError:
                    return
                if answer.status_code in (200, 201):
                    load.acknowledged()

    asyncio.run(Load(server, CLIENTS).run(write_patients))

    again = ServerProcess(["--data-dir", str(data_dir)], tmp_path / "again.log")
    try:
        with httpx.Client(base_url=f"{again.base}/fhir", timeout=60) as http:
            stored = {
                p["id"]: int(p["meta"]["versionId"])
                for p in _pages(http, "/Patient", {"_count": "500", "_elements": "id"})
            }
    finally:
        again.stop()
    lost = sorted(i for i in acknowledged if i not in stored)
    rolled_back = sorted(i for i in acknowledged if i in stored and stored[i] < acknowledged[i])
    assert not lost and not rolled_back, (
        f"{len(acknowledged)} resources acknowledged: {len(lost)} lost, {len(rolled_back)} rolled back a version"
    )


def _result(n: int) -> bytes:
    """A small ORU^R01: one report (filler number D<n>) with one glucose Observation."""
    return (
        f"MSH|^~\\&|LAB|LABFAC|FHIR|CLINIC|20240101120000||ORU^R01^ORU_R01|D{n}|P|2.5.1\r"
        "PID|1||MRN-D^^^LAB^MR||Durable^Jane||19800101|F\r"
        f"OBR|1|ORD-D{n}|D{n}|2345-7^Glucose^LN|||20240101110000|||||||||||||||20240101115000|||F\r"
        f"OBX|1|NM|2345-7^Glucose^LN|1|{n % 9 + 4}.1|mmol/L|||||F\r"
    ).encode()


def test_acknowledged_hl7_results_survive_kill_9_of_server_and_database(tmp_path: Path) -> None:
    data_dir, mllp_port = tmp_path / "data", free_loopback_port()
    server = ServerProcess(["--data-dir", str(data_dir), "--mllp-port", str(mllp_port)], tmp_path / "server.log")
    acknowledged: list[int] = []

    async def send_results(load: Load) -> None:
        """Send results one after the other on one connection; record each answered AA."""
        reader, writer = await asyncio.open_connection("127.0.0.1", mllp_port)
        decoder, pending = FrameDecoder(), []
        try:
            for n in range(1_000_000):
                await load.next_write()
                writer.write(frame(_result(n)))
                await writer.drain()
                while not pending:
                    if not (data := await reader.read(65536)):
                        return
                    pending += decoder.feed(data)
                ack = pending.pop(0).decode()
                if next(s.split("|") for s in ack.split("\r") if s.startswith("MSA|"))[1:3] == ["AA", f"D{n}"]:
                    acknowledged.append(n)
                    load.acknowledged()
        except ConnectionError:
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    asyncio.run(Load(server, 1).run(send_results))

    again = ServerProcess(["--data-dir", str(data_dir)], tmp_path / "again.log")
    try:
        with httpx.Client(base_url=f"{again.base}/fhir", timeout=60) as http:
            params = {"identifier": f"{OBX_SYSTEM}|", "_count": "500", "_elements": "identifier"}
            stored = {i["value"] for o in _pages(http, "/Observation", params) for i in o["identifier"]}
    finally:
        again.stop()
    lost = [n for n in acknowledged if f"D{n}-2345-7-1" not in stored]
    assert not lost, f"{len(acknowledged)} results acknowledged AA: the Observations of {len(lost)} are gone"
