"""The audit log is the server's own: its key covers every field, forged rows and truncation are reported.

A real server seals the log under a key file it creates; the tests change the database directly,
as someone with database access but not the key would, and run `fhir-server audit verify` and
`audit anchor` as an operator would.
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pymongo import AsyncMongoClient, MongoClient

from fhir_server.audit.events import Actor, rest_event
from fhir_server.audit.key import load_audit_key
from fhir_server.config import Settings
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.audit import GENESIS, ChainReport, MongoAuditLog
from fhir_server.storage.audit_seal import legacy_link
from tests.conftest import FHIR_JSON, ServerProcess, new_patient


@dataclass
class Deployment:
    """A database, its audit key file, and (while running) a server sealing the database's audit log."""

    uri: str
    name: str
    key_file: Path
    log_path: Path
    server: ServerProcess | None = None
    mongo: MongoClient[dict[str, Any]] | None = None

    def start(self) -> ServerProcess:
        args = ["--mongodb-uri", self.uri, "--database", self.name]
        self.server = ServerProcess(args, self.log_path, env={"FHIR_AUDIT_KEY_FILE": str(self.key_file)})
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def traffic(self, count: int = 3) -> None:
        """Writes (their events go in the write's transaction) and reads (queued events)."""
        assert self.server is not None
        with httpx.Client(base_url=f"{self.server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:
            for _n in range(count):
                created = http.post("/Patient", json=new_patient("Sealed"))
                assert created.status_code == 201, created.text
                assert http.get(f"/Patient/{created.json()['id']}").status_code == 200

    def report(self) -> ChainReport:
        async def verify() -> ChainReport:
            async with AsyncMongoClient[dict](self.uri, tz_aware=True) as mongo:
                key = load_audit_key(Settings(audit_key_file=self.key_file), create=False)
                return await MongoAuditLog(mongo, self.name, key).verify()

        return asyncio.run(verify())

    def sealed(self, at_least: int) -> ChainReport:
        """The log's report once at least `at_least` events are sealed and none waits (the sealer runs each second;
        the reads' events are packed, several to a record)."""
        deadline = time.monotonic() + 20
        while True:
            found = self.report()
            if (found.events >= at_least and found.unsealed == 0) or time.monotonic() > deadline:
                assert found.intact, found.problems
                assert found.events >= at_least and found.unsealed == 0, found
                return found
            time.sleep(0.2)

    def audit(self, *args: str, key_file: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`fhir-server audit ARGS` on this database."""
        command = [
            sys.executable,
            "-m",
            "fhir_server",
            "audit",
            *args,
            "--mongodb-uri",
            self.uri,
            "--database",
            self.name,
        ]
        env = {**os.environ, "FHIR_AUDIT_KEY_FILE": str(key_file or self.key_file)}
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=env)

    def records(self) -> Any:
        """The database, as someone with access to it but not to the key sees it."""
        if self.mongo is None:
            self.mongo = MongoClient(self.uri, tz_aware=True)
        return self.mongo[self.name]


@pytest.fixture()
def deployment(database: EmbeddedDatabase, tmp_path: Path) -> Iterator[Deployment]:
    made = Deployment(
        database.uri, f"seal_{uuid.uuid4().hex[:8]}", tmp_path / "keys" / "audit.key", tmp_path / "server.log"
    )
    yield made
    made.stop()
    if made.mongo is not None:
        made.mongo.close()


def _forged_event(n: int) -> dict[str, Any]:
    nobody = Actor(client_id="forger", username="mallory", address="10.6.6.6")
    return rest_event("read", nobody, "2026-11-26T08:00:00.000Z", 200, "http://h/fhir", what=[f"Patient/forged-{n}"])


def test_the_server_makes_its_key_and_its_log_verifies_with_an_anchor(deployment: Deployment, tmp_path: Path) -> None:
    deployment.start()
    deployment.traffic()
    assert stat.S_IMODE(deployment.key_file.stat().st_mode) == 0o600
    report = deployment.sealed(at_least=6)
    stored = deployment.records()["audit"].find_one({"seq": 1})
    assert stored["v"] in (2, 4) and len(stored["mac"]) == 64 and report.legacy == 0
    head = deployment.records()["audit_chain"].find_one({"_id": "head"})
    assert head["keyedFrom"] == 1 and len(head["mac"]) == 64

    printed = deployment.audit("anchor")
    assert printed.returncode == 0, printed.stdout + printed.stderr
    assert orjson.loads(printed.stdout)["database"] == deployment.name
    anchor_file = tmp_path / "anchor.json"
    written = deployment.audit("anchor", "--out", str(anchor_file))
    anchor = orjson.loads(anchor_file.read_bytes())
    assert written.returncode == 0 and f"Anchor of record {anchor['seq']} written" in written.stdout
    deployment.traffic(1)  # the chain grows past the anchor: still intact
    assert deployment.sealed(at_least=report.events + 2).head_seq > anchor["seq"]
    verified = deployment.audit("verify", "--anchor", str(anchor_file))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "0 of them sealed without a key" in verified.stdout and "The audit log is intact." in verified.stdout


def test_a_recorded_time_changed_in_the_database_is_reported(deployment: Deployment) -> None:
    deployment.start()
    deployment.traffic()
    deployment.sealed(at_least=6)
    deployment.stop()
    records = deployment.records()["audit"]
    record = records.find_one({"seq": 2})
    records.update_one({"_id": record["_id"]}, {"$set": {"recorded": record["recorded"] - timedelta(days=30)}})
    verified = deployment.audit("verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert f"TAMPERED: record 2 (id {record['_id']}) was changed or written outside the server" in verified.stdout
    assert "The audit log was tampered with." in verified.stdout


def test_records_inserted_directly_are_refused_by_the_sealer_and_reported(deployment: Deployment) -> None:
    server = deployment.start()
    deployment.traffic()
    deployment.sealed(at_least=6)
    records = deployment.records()["audit"]
    now = datetime.now(UTC)
    shaped_as_new = {"v": 2, "recorded": now, "seq": None, "event": _forged_event(1), "mac": "0" * 64}
    shaped_as_old = {"recorded": now, "seq": None, "event": _forged_event(2)}
    forged = deployment.records()["audit_inbox"].insert_many([shaped_as_new, shaped_as_old]).inserted_ids
    deadline = time.monotonic() + 20
    while records.count_documents({"_id": {"$in": forged}, "rejected": {"$exists": True}}) < 2:
        assert time.monotonic() < deadline, "the sealer did not look at the forged records"
        time.sleep(0.2)
    assert records.count_documents({"_id": {"$in": forged}, "seq": None}) == 2  # not chained
    with httpx.Client(base_url=server.base, timeout=30) as http:
        found = http.get("/admin/audit", params={"entity": "Patient/forged-1,Patient/forged-2"}).json()
        assert found.get("total", 0) == 0 and not found.get("entry"), found
    verified = deployment.audit("verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    refused = "was not written by the server and was left out of the chain"
    assert f"record {forged[0]} {refused}: its MAC does not match" in verified.stdout
    assert f"record {forged[1]} {refused}: it has no MAC" in verified.stdout


def test_a_record_chained_on_by_the_old_unkeyed_scheme_is_reported(deployment: Deployment) -> None:
    deployment.start()
    deployment.traffic()
    deployment.sealed(at_least=6)
    deployment.stop()
    db = deployment.records()
    head = db["audit_chain"].find_one({"_id": "head"})
    seq, event = head["seq"] + 1, _forged_event(3)
    link = legacy_link(head["hash"], seq, event)
    forged = (
        db["audit"]
        .insert_one({"recorded": datetime.now(UTC), "seq": seq, "prev": head["hash"], "hash": link, "event": event})
        .inserted_id
    )
    db["audit_chain"].update_one({"_id": "head"}, {"$set": {"seq": seq, "hash": link}})
    verified = deployment.audit("verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert f"record {seq} (id {forged}) is sealed without a key after keyed records" in verified.stdout
    assert f"the chain head (record {seq}) was changed outside the server" in verified.stdout


def test_truncation_after_an_anchor_is_reported(deployment: Deployment, tmp_path: Path) -> None:
    deployment.start()
    deployment.traffic()
    first = deployment.sealed(at_least=6)
    kept = first.head_seq
    db = deployment.records()
    old_head = db["audit_chain"].find_one({"_id": "head"})  # someone with database access keeps a copy
    deployment.traffic()
    deployment.sealed(at_least=first.events + 6)
    anchor_file = tmp_path / "anchor.json"
    assert deployment.audit("anchor", "--out", str(anchor_file)).returncode == 0
    anchored = orjson.loads(anchor_file.read_bytes())["seq"]
    deployment.stop()

    db["audit"].delete_many({"seq": {"$gt": kept}})
    last = db["audit"].find_one({"seq": kept})
    db["audit_chain"].update_one({"_id": "head"}, {"$set": {"seq": kept, "hash": last["hash"]}})
    naive = deployment.audit("verify")  # the head moved without the key: its MAC tells
    assert naive.returncode == 1 and f"the chain head (record {kept}) was changed outside the server" in naive.stdout

    db["audit_chain"].replace_one({"_id": "head"}, old_head)  # an older head put back: only the anchor tells
    assert deployment.audit("verify").returncode == 0
    verified = deployment.audit("verify", "--anchor", str(anchor_file))
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert f"the chain ends at record {kept}, before record {anchored} of the anchor" in verified.stdout


def test_what_cannot_be_checked_exits_2(deployment: Deployment, tmp_path: Path) -> None:
    missing = deployment.audit("verify")  # no server ever ran: no key yet, and verify does not make one
    assert missing.returncode == 2 and f"the audit key file {deployment.key_file} does not exist" in missing.stdout
    assert not deployment.key_file.exists() and deployment.audit("anchor").returncode == 2
    deployment.start()
    deployment.traffic(1)
    deployment.sealed(at_least=2)
    deployment.stop()

    other_key = tmp_path / "other.key"
    other_key.write_text(os.urandom(32).hex())
    other = deployment.audit("verify", key_file=other_key)
    assert other.returncode == 2 and "the audit log was sealed with another key" in other.stdout
    not_a_key = tmp_path / "short.key"
    not_a_key.write_text("abc")
    assert deployment.audit("verify", key_file=not_a_key).returncode == 2

    anchor_file = tmp_path / "anchor.json"
    assert deployment.audit("anchor", "--out", str(anchor_file)).returncode == 0
    anchor = orjson.loads(anchor_file.read_bytes())
    anchor_file.write_bytes(orjson.dumps({**anchor, "seq": anchor["seq"] + 5}))  # an edited anchor
    edited = deployment.audit("verify", "--anchor", str(anchor_file))
    assert edited.returncode == 2 and "the anchor was not made with this audit key" in edited.stdout
    anchor_file.write_text("not json")
    assert deployment.audit("verify", "--anchor", str(anchor_file)).returncode == 2
    assert deployment.audit("verify", "--anchor", str(tmp_path / "absent.json")).returncode == 2


def test_a_log_sealed_before_keys_still_verifies_and_goes_on_keyed(deployment: Deployment) -> None:
    db = deployment.records()
    prev, moment = GENESIS, datetime.now(UTC)
    for seq in range(1, 4):  # as the server sealed records before this change
        event = rest_event("read", Actor(username="nina"), "2026-11-26T08:00:00.000Z", 200, "http://h/fhir")
        link = legacy_link(prev, seq, event)
        db["audit"].insert_one({"recorded": moment, "seq": seq, "prev": prev, "hash": link, "event": event})
        prev = link
    waiting = rest_event("read", Actor(username="nina"), "2026-11-26T08:00:01.000Z", 200, "http://h/fhir")
    db["audit"].insert_one({"recorded": moment, "seq": None, "event": waiting})  # written, not sealed yet
    db["audit_chain"].insert_one({"_id": "head", "seq": 3, "hash": prev, "sealer": None, "leaseUntil": moment})
    deployment.start()
    deployment.traffic(1)
    report = deployment.sealed(at_least=6)
    assert report.legacy == 4 and db["audit_chain"].find_one({"_id": "head"})["keyedFrom"] == 5
    deployment.stop()
    verified = deployment.audit("verify")
    assert verified.returncode == 0 and "(4 of them sealed without a key)" in verified.stdout, verified.stdout
    db["audit"].update_one({"seq": 2}, {"$set": {"event.outcome": "8"}})
    changed = deployment.audit("verify")
    assert changed.returncode == 1 and "record 2 (id " in changed.stdout and "after it was sealed" in changed.stdout
