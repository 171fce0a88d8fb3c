"""`fhir-server backup` and `fhir-server restore`: exact round trips, a consistent cut, refusals that write nothing."""

from __future__ import annotations

import gzip
import hashlib
import re
import secrets
import stat
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from pymongo import MongoClient

from fhir_server.storage import EmbeddedDatabase
from tests.audit.test_audit_seal import Deployment
from tests.conftest import FHIR_JSON, ServerProcess, new_patient
from tests.test_cli_import_export import DUMPED, FIXTURE, cli, dump, patient, write_json, write_ndjson


def _batch(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "batch", "entry": list(entries)}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, list[Any]]]:
    """A data dir with versions, deletions and a conditional-create counter; its backup; its state at backup."""
    tmp = tmp_path_factory.mktemp("backup-source")
    data_dir = tmp / "data"
    first = write_ndjson(tmp / "first.ndjson", patient("a", "A1"), patient("b", "B1"), patient("c", "C1"))
    assert cli("import", FIXTURE, first, "--data-dir", data_dir).returncode == 0
    changes = _batch(
        {"resource": patient("a", "A2"), "request": {"method": "PUT", "url": "Patient/a"}},
        {"request": {"method": "DELETE", "url": "Patient/b"}},
        {
            "resource": patient("x", "Conditional", identifier=[{"system": "urn:t", "value": "1"}]),
            "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:t|1"},
        },
    )
    done = cli("import", write_json(tmp / "changes.json", changes), "--data-dir", data_dir)
    assert done.returncode == 0, done.stderr
    revived = write_ndjson(tmp / "revived.ndjson", patient("b", "B3"), patient("a", "A3"))
    assert cli("import", revived, "--data-dir", data_dir).returncode == 0
    deleted_again = _batch({"request": {"method": "DELETE", "url": "Patient/c"}})
    assert cli("import", write_json(tmp / "delete.json", deleted_again), "--data-dir", data_dir).returncode == 0
    state = dump(data_dir)

    done = cli("backup", tmp / "backup", "--data-dir", data_dir, "--settle", "0.2")
    assert done.returncode == 0, done.stderr
    assert "Backed up" in done.stdout

    later = write_ndjson(tmp / "later.ndjson", patient("a", "A4"), patient("d", "D1"))
    assert cli("import", later, "--data-dir", data_dir).returncode == 0  # after the backup: not in it
    return data_dir, tmp / "backup", state


def test_backup_format(source: tuple[Path, Path, dict[str, list[Any]]]) -> None:
    _data_dir, backup, state = source
    assert sorted(path.name for path in backup.iterdir()) == [
        "audit.key", "history.ndjson.gz", "manifest.json", "state.ndjson.gz"
    ]  # fmt: skip
    manifest = orjson.loads((backup / "manifest.json").read_bytes())
    assert manifest["format"] == "fhir-server-backup" and manifest["formatVersion"] == 1
    assert manifest["counts"]["versions"] == len(state["history"])
    assert manifest["counts"]["resources"] == len(state["resources"])
    assert manifest["counts"]["deleted"] == 1  # Patient/c (b was deleted, then written again)
    imported = [c for c in state["conditions"] if not str(c["_id"]).startswith("rule/")]  # not the rules' own locks
    events = sum(len(record["times"]) if "times" in record else 1 for record in state["audit_inbox"])
    assert len(imported) == 1 and events == len(state["history"])  # one event per version (a Bundle's in a pack)
    assert state["import_records"]  # what each import finished
    kept = ("conditions", "audit_inbox", "import_records")  # no chain head: unsealed; no accounts, clients or keys
    assert manifest["counts"]["state"] == sum(len(state[name]) for name in kept)
    assert (backup / "audit.key").read_bytes() == (_data_dir / "audit.key").read_bytes()
    assert stat.S_IMODE((backup / "audit.key").stat().st_mode) == 0o600
    for name in ("history.ndjson.gz", "state.ndjson.gz", "audit.key"):
        content = (backup / name).read_bytes()
        assert manifest["files"][name]["bytes"] == len(content)
        assert manifest["files"][name]["sha256"] == hashlib.sha256(content).hexdigest()
    lines = [orjson.loads(line) for line in gzip.decompress((backup / "history.ndjson.gz").read_bytes()).splitlines()]
    versions_of_a = [line for line in lines if line["_id"].startswith("Patient/a/")]
    assert [line["version"] for line in versions_of_a] == [3, 2, 1]  # newest first
    assert versions_of_a[0]["resource"]["name"][0]["family"] == "A3"
    assert versions_of_a[0]["replacedAt"] is None  # replaced only after the backup instant
    assert datetime.fromisoformat(versions_of_a[1]["replacedAt"]) == datetime.fromisoformat(
        versions_of_a[0]["lastUpdated"]
    )


def test_restore_gives_back_exactly_the_state_at_backup(
    source: tuple[Path, Path, dict[str, list[Any]]], tmp_path: Path
) -> None:
    _data_dir, backup, state = source
    target = tmp_path / "restored"
    done = cli("restore", backup, "--data-dir", target)
    assert done.returncode == 0, done.stderr
    assert f"Restored {len(state['history']):,} versions" in done.stdout
    restored = dump(target)
    assert restored == state  # every version, deletions, bodies, instants, methods, search fields, counters
    by_time = [d["_id"] for d in sorted(restored["history"], key=lambda d: (d["lastUpdated"], d["_id"]))]
    assert by_time == [d["_id"] for d in sorted(state["history"], key=lambda d: (d["lastUpdated"], d["_id"]))]
    assert "Patient/d" not in {doc["_id"] for doc in restored["resources"]}

    # the restored server serves it: reads, history and search fields recomputed by the engine
    server = ServerProcess(["--data-dir", str(target)], tmp_path / "server.log")
    try:
        with httpx.Client(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:
            assert http.get("/Patient/a").json()["meta"]["versionId"] == "3"
            assert http.get("/Patient/c").status_code == 410
            assert http.get("/Patient/a/_history").json()["total"] == 3
            assert http.get("/Patient", params={"family": "B3"}).json()["total"] == 1
            assert http.get("/Patient", params={"identifier": "urn:t|1"}).json()["total"] == 1
    finally:
        server.stop()


def test_restore_into_a_database_that_is_not_empty_is_refused(
    source: tuple[Path, Path, dict[str, list[Any]]],
) -> None:
    data_dir, backup, _state = source
    before = dump(data_dir)
    done = cli("restore", backup, "--data-dir", data_dir)
    assert done.returncode == 1
    assert "not empty" in done.stderr
    assert dump(data_dir) == before


def _copy(backup: Path, to: Path) -> Path:
    to.mkdir()
    for path in backup.iterdir():
        (to / path.name).write_bytes(path.read_bytes())
    return to


def _refused_and_empty(backup: Path, data_dir: Path, reason: str) -> None:
    done = cli("restore", backup, "--data-dir", data_dir)
    assert done.returncode == 1, done.stdout
    assert "restore refused" in done.stderr and reason in done.stderr, done.stderr
    assert dump(data_dir) == {name: [] for name in DUMPED}


def test_damaged_backups_are_refused_before_anything_is_written(
    source: tuple[Path, Path, dict[str, list[Any]]], tmp_path: Path
) -> None:
    _data_dir, backup, _state = source

    flipped = _copy(backup, tmp_path / "flipped")
    content = bytearray((flipped / "history.ndjson.gz").read_bytes())
    content[len(content) // 2] ^= 0x01
    (flipped / "history.ndjson.gz").write_bytes(bytes(content))
    _refused_and_empty(flipped, tmp_path / "d1", "sha256")

    truncated = _copy(backup, tmp_path / "truncated")
    content = (truncated / "history.ndjson.gz").read_bytes()
    (truncated / "history.ndjson.gz").write_bytes(content[: len(content) - 100])
    _refused_and_empty(truncated, tmp_path / "d2", "truncated")

    # a truncated file whose manifest was made to match: the gzip stream does not end
    forged = _copy(truncated, tmp_path / "forged")
    manifest = orjson.loads((forged / "manifest.json").read_bytes())
    short = (forged / "history.ndjson.gz").read_bytes()
    manifest["files"]["history.ndjson.gz"].update(bytes=len(short), sha256=hashlib.sha256(short).hexdigest())
    (forged / "manifest.json").write_bytes(orjson.dumps(manifest))
    _refused_and_empty(forged, tmp_path / "d3", "damaged")

    missing = _copy(backup, tmp_path / "missing")
    (missing / "state.ndjson.gz").unlink()
    _refused_and_empty(missing, tmp_path / "d4", "missing")

    other_key = _copy(backup, tmp_path / "other-key")
    (other_key / "audit.key").write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    _refused_and_empty(other_key, tmp_path / "d6", "audit.key does not match its sha256")

    no_key = _copy(backup, tmp_path / "no-key")
    (no_key / "audit.key").unlink()
    _refused_and_empty(no_key, tmp_path / "d7", "audit.key is missing")

    unfinished = _copy(backup, tmp_path / "unfinished")
    (unfinished / "manifest.json").unlink()
    _refused_and_empty(unfinished, tmp_path / "d5", "manifest.json")


def test_backup_while_a_server_writes(database: EmbeddedDatabase, tmp_path: Path) -> None:
    """A backup taken while a client keeps writing holds exactly the versions up to its instant."""
    name = "fhir_backup_live"
    server = ServerProcess(["--mongodb-uri", database.uri, "--database", name], tmp_path / "server.log")
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        with httpx.Client(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:
            ids = [http.post("/Patient", json=new_patient(family=f"W{n}")).json()["id"] for n in range(5)]
            n = 0
            while not stop.is_set():
                resource_id = ids[n % len(ids)]
                body = {**new_patient(family=f"W{n}"), "id": resource_id}
                assert http.put(f"/Patient/{resource_id}", json=body).status_code == 200
                n += 1
                written.append(n)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(1.0)
        done = cli("backup", tmp_path / "backup", "--mongodb-uri", database.uri, "--database", name, "--settle", "0.5")
        assert done.returncode == 0, done.stderr
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join()
        server.stop()
    assert len(written) > 10
    instant = datetime.fromisoformat(orjson.loads((tmp_path / "backup" / "manifest.json").read_bytes())["instant"])
    source = dump(uri=database.uri, database=name)
    expected = []
    for doc in source["history"]:
        if doc["lastUpdated"] <= instant:
            if doc.get("replacedAt") is not None and doc["replacedAt"] > instant:
                del doc["replacedAt"]
            expected.append(doc)
    assert len(expected) < len(source["history"])  # writes went on after the instant

    target = tmp_path / "restored"
    assert cli("restore", tmp_path / "backup", "--data-dir", target).returncode == 0
    restored = dump(target)
    assert restored["history"] == expected
    latest = {}
    for doc in expected:
        key = f"{doc['type']}/{doc['id']}"
        if key not in latest or latest[key]["version"] < doc["version"]:
            latest[key] = doc
    assert {d["_id"]: d["version"] for d in restored["resources"]} == {k: d["version"] for k, d in latest.items()}


REDIRECT = "http://127.0.0.1:9/callback"
PASSWORD = "restored horse battery"


def _sign_in(http: httpx.Client, fhir_base: str, client_id: str, username: str, password: str) -> httpx.Response:
    """Authorize as `client_id`, then post the sign-in form: what a browser does."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "openid fhirUser",
              "state": "s1", "aud": fhir_base, "code_challenge": "c" * 43, "code_challenge_method": "S256"}  # fmt: skip
    parked = http.get("/auth/authorize", params=params)
    assert parked.status_code == 303, parked.text
    request_id = parse_qs(urlsplit(parked.headers["location"]).query)["request"][0]
    form = http.get("/auth/login", params={"request": request_id})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf, form.text
    data = {"request": request_id, "username": username, "password": password, "csrf_token": csrf.group(1)}
    return http.post("/auth/login", data=data)


def _kids(server: ServerProcess) -> set[str]:
    return {key["kid"] for key in httpx.get(f"{server.base}/auth/jwks", timeout=30).json()["keys"]}


def test_a_restored_server_keeps_its_accounts_apps_and_signing_keys(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    added = cli("user", "add", "dr-restore", "--role", "physician", "--password-stdin", "--data-dir", source,
                input=PASSWORD + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    app = cli("client", "add", "--id", "restored-app", "--redirect-uri", REDIRECT, "--scope", "openid",
              "--scope", "fhirUser", "--data-dir", source)  # fmt: skip
    assert app.returncode == 0, app.stderr
    backend = cli("client", "add", "--id", "restored-backend", "--kind", "symmetric", "--redirect-uri", REDIRECT,
                  "--data-dir", source)  # fmt: skip
    secret = re.search(r"store it now\): (\S+)", backend.stdout)
    assert backend.returncode == 0 and secret, backend.stdout
    server = ServerProcess(["--data-dir", str(source)], tmp_path / "source.log", auth="smart")
    try:
        kids = _kids(server)  # the signing key is made at the first start
    finally:
        server.stop()
    with EmbeddedDatabase(source) as embedded, MongoClient[dict[str, Any]](embedded.uri) as mongo:
        mongo["fhir"]["practice_notes"].insert_one({"_id": "unknown to the backup"})
    before = dump(source)
    clients = {client["_id"] for client in before["auth_clients"]}
    assert clients == {"restored-app", "restored-backend", "staff-pages"}  # the staff pages' own client too
    assert before["auth_users"] and before["auth_keys"]

    done = cli("backup", tmp_path / "backup", "--data-dir", source, "--settle", "0.2")
    assert done.returncode == 0, done.stderr
    assert "warning: collection practice_notes is not in the backup" in done.stderr  # not dropped in silence
    state = gzip.decompress((tmp_path / "backup" / "state.ndjson.gz").read_bytes())
    assert PASSWORD.encode() not in state and secret.group(1).encode() not in state  # hashes only
    assert b"auth_key_secrets" not in state and b'"d":' not in state  # no private key: a backup cannot sign
    restored = cli("restore", tmp_path / "backup", "--data-dir", target)
    assert restored.returncode == 0, restored.stderr

    after = dump(target)
    for name in ("auth_users", "auth_clients", "auth_keys"):
        assert after[name] == before[name]  # password and secret hashes exactly as stored
    users = cli("user", "list", "--data-dir", target)
    assert users.returncode == 0 and "dr-restore" in users.stdout, users.stdout
    clients = cli("client", "list", "--data-dir", target)
    assert "restored-app" in clients.stdout and "restored-backend" in clients.stdout, clients.stdout

    server = ServerProcess(["--data-dir", str(target)], tmp_path / "target.log", auth="smart")
    try:
        assert kids <= _kids(server)  # id tokens signed before the backup still verify
        with httpx.Client(base_url=server.base, timeout=30) as http:
            good = _sign_in(http, f"{server.base}/fhir", "restored-app", "dr-restore", PASSWORD)
            assert good.status_code == 303 and good.headers["location"].startswith("/auth/consent"), good.text
        with httpx.Client(base_url=server.base, timeout=30) as http:
            wrong = _sign_in(http, f"{server.base}/fhir", "restored-app", "dr-restore", "not " + PASSWORD)
            assert wrong.status_code == 400
            introspect = {"token": "not-a-token"}
            right = http.post("/auth/introspect", data=introspect, auth=("restored-backend", secret.group(1)))
            assert right.status_code == 200 and right.json() == {"active": False}, right.text
            refused = http.post("/auth/introspect", data=introspect, auth=("restored-backend", "wrong-secret"))
            assert refused.status_code == 401
    finally:
        server.stop()


def _verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return cli("audit", "verify", "--data-dir", data_dir)


def _sealed_on(data_dir: Path, log: Path, at_least: int, traffic: int) -> int:
    """Run a server on the data dir's database with its audit key, write, and wait until its records are sealed."""
    with EmbeddedDatabase(data_dir) as embedded:
        deployment = Deployment(embedded.uri, "fhir", data_dir / "audit.key", log)
        try:
            deployment.start()
            deployment.traffic(traffic)
            return deployment.sealed(at_least).sealed
        finally:
            deployment.stop()
            if deployment.mongo is not None:
                deployment.mongo.close()


def test_a_restored_audit_log_verifies_and_its_chain_goes_on(tmp_path: Path) -> None:
    """The backup carries the audit key: the restored log verifies, and a server on it seals on, same chain."""
    source, target = tmp_path / "source", tmp_path / "target"
    sealed = _sealed_on(source, tmp_path / "source.log", at_least=6, traffic=3)
    done = cli("backup", tmp_path / "backup", "--data-dir", source, "--settle", "0.2")
    assert done.returncode == 0, done.stderr

    restored = cli("restore", tmp_path / "backup", "--data-dir", target)
    assert restored.returncode == 0, restored.stderr
    assert "audit key" not in restored.stdout + restored.stderr  # a fresh data dir: nothing replaced, no warning
    assert (target / "audit.key").read_bytes() == (source / "audit.key").read_bytes()
    assert stat.S_IMODE((target / "audit.key").stat().st_mode) == 0o600
    verified = _verify(target)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{sealed:,} sealed records" in verified.stdout and "The audit log is intact." in verified.stdout

    grown = _sealed_on(target, tmp_path / "target.log", at_least=sealed + 4, traffic=2)
    again = _verify(target)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{grown:,} sealed records" in again.stdout and "0 of them sealed without a key" in again.stdout
    assert "The audit log is intact." in again.stdout


def test_restore_replaces_another_key_only_into_an_empty_database(
    source: tuple[Path, Path, dict[str, list[Any]]], tmp_path: Path
) -> None:
    data_dir, backup, _state = source
    busy = tmp_path / "busy"
    assert cli("import", write_ndjson(tmp_path / "one.ndjson", patient("z", "Z1")), "--data-dir", busy).returncode == 0
    own_key = (busy / "audit.key").read_bytes()
    refused = cli("restore", backup, "--data-dir", busy)
    assert refused.returncode == 1 and "not empty" in refused.stderr
    assert (busy / "audit.key").read_bytes() == own_key  # its records are sealed under it: kept

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "audit.key").write_text(secrets.token_hex(32) + "\n", encoding="ascii")
    done = cli("restore", backup, "--data-dir", empty)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if "audit key" in line] == [
        f"The audit key file {empty / 'audit.key'} held another key; it now holds the backup's (the database was "
        "empty)."
    ]
    assert (empty / "audit.key").read_bytes() == (data_dir / "audit.key").read_bytes()
    assert _verify(empty).returncode == 0


def test_a_backup_made_before_keys_were_kept_restores_with_a_warning(
    source: tuple[Path, Path, dict[str, list[Any]]], tmp_path: Path
) -> None:
    data_dir, backup, _state = source
    old = _copy(backup, tmp_path / "old")
    (old / "audit.key").unlink()
    manifest = orjson.loads((old / "manifest.json").read_bytes())
    del manifest["files"]["audit.key"]
    (old / "manifest.json").write_bytes(orjson.dumps(manifest))
    target = tmp_path / "target"
    done = cli("restore", old, "--data-dir", target)
    assert done.returncode == 0, done.stderr
    assert "warning: this backup holds no audit key" in done.stderr
    assert str(target / "audit.key") in done.stderr
    assert not (target / "audit.key").exists()  # none made: the original is what `audit verify` needs
    assert _verify(target).returncode == 2  # no key: the check cannot be made, as the warning said
    (target / "audit.key").write_bytes((data_dir / "audit.key").read_bytes())
    assert _verify(target).returncode == 0
