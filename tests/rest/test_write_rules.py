"""Declared write rules run on every write path (engine/rules): a rule's refusal writes nothing.

The real SearchParameter rule (an unusable SearchParameter is refused with 400) is driven through each
path that can carry a SearchParameter; HL7 v2 and deletions are proven with the site rules of
tests/site_rules.py, loaded by a server through the documented `FHIR_RULE_MODULES` setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pymongo import MongoClient

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.embedded import free_loopback_port
from tests.conftest import FHIR_JSON, ServerProcess, new_patient
from tests.hl7v2 import mllp_send_command, segment
from tests.site_rules import KEPT_TAG, LOG, REFUSED_FAMILY, UNIQUE_SYSTEM

REFUSAL = "Search parameter 'family' of Patient is already defined by"
Site = tuple[ServerProcess, str, int]
"""The site-rules server, its database name and its MLLP port."""
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def _parameter(tag: str, usable: bool = True) -> dict:
    """A SearchParameter valid R4; unless `usable` it redefines Patient's built-in `family`, which the rule
    refuses (SearchParameter.code) while the profile validation lets it through."""
    return {
        "resourceType": "SearchParameter",
        "url": f"http://example.org/SearchParameter/{tag}",
        "name": tag,
        "status": "active",
        "description": "test",
        "code": tag if usable else "family",
        "base": ["Patient"],
        "type": "string",
        "expression": "Patient.name" if usable else "Patient.gender",
    }


def _code() -> str:
    return f"rule{uuid.uuid4().hex[:10]}"


def _stored(client: httpx.Client, code: str) -> list[dict]:
    bundle = client.get("/SearchParameter", params={"url": f"http://example.org/SearchParameter/{code}"}).json()
    return [entry["resource"] for entry in bundle.get("entry", [])]


def _refused(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert REFUSAL in outcome["issue"][0]["diagnostics"]
    assert outcome["issue"][0]["expression"] == ["SearchParameter.code"]
    return str(outcome["issue"][0]["diagnostics"])


def test_create_and_update_run_the_rule(client: httpx.Client) -> None:
    code = _code()
    _refused(client.post("/SearchParameter", json=_parameter(code, usable=False)))
    assert _stored(client, code) == []
    _refused(client.put(f"/SearchParameter/{code}", json={**_parameter(code, usable=False), "id": code}))
    assert client.get(f"/SearchParameter/{code}").status_code == 404


def test_both_patch_formats_run_the_rule(client: httpx.Client) -> None:
    code = _code()
    created = client.post("/SearchParameter", json=_parameter(code))
    assert created.status_code == 201, created.text
    resource_id = created.json()["id"]
    json_patch = [{"op": "replace", "path": "/code", "value": "family"}]
    _refused(client.patch(f"/SearchParameter/{resource_id}", content=orjson.dumps(json_patch), headers=JSON_PATCH))
    fhirpath_patch = {
        "resourceType": "Parameters",
        "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueCode": "replace"},
            {"name": "path", "valueString": "SearchParameter.code"},
            {"name": "value", "valueCode": "family"},
        ]}],
    }  # fmt: skip
    _refused(client.patch(f"/SearchParameter/{resource_id}", json=fhirpath_patch))
    stored = client.get(f"/SearchParameter/{resource_id}").json()
    assert stored["meta"]["versionId"] == "1" and stored["code"] == code


def test_conditional_writes_run_the_rule(client: httpx.Client) -> None:
    code = _code()
    url = f"http://example.org/SearchParameter/{code}"
    bad = _parameter(code, usable=False)
    _refused(client.post("/SearchParameter", json=bad, headers={"If-None-Exist": f"url={url}"}))
    _refused(client.put("/SearchParameter", params={"url": url}, json=bad))
    assert _stored(client, code) == []
    assert client.post("/SearchParameter", json=_parameter(code)).status_code == 201
    patch = [{"op": "replace", "path": "/code", "value": "family"}]
    _refused(client.patch("/SearchParameter", params={"url": url}, content=orjson.dumps(patch), headers=JSON_PATCH))
    _refused(client.put("/SearchParameter", params={"url": url}, json=bad))  # the update of the one match
    (stored,) = _stored(client, code)
    assert stored["meta"]["versionId"] == "1" and stored["code"] == code


def test_a_refused_transaction_entry_writes_nothing(client: httpx.Client) -> None:
    code, family = _code(), f"Tx{uuid.uuid4().hex[:8]}"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": new_patient(family), "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:bad", "resource": _parameter(code, usable=False),
         "request": {"method": "POST", "url": "SearchParameter"}},
    ]}  # fmt: skip
    diagnostics = _refused(client.post("", json=bundle))
    assert "entry 1" in diagnostics, diagnostics
    assert _stored(client, code) == []
    assert client.get("/Patient", params={"family": family}).json().get("entry") is None


def test_a_batch_refuses_the_entry_alone(client: httpx.Client) -> None:
    code, family = _code(), f"Batch{uuid.uuid4().hex[:8]}"
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": new_patient(family), "request": {"method": "POST", "url": "Patient"}},
        {"resource": _parameter(code, usable=False), "request": {"method": "POST", "url": "SearchParameter"}},
    ]}  # fmt: skip
    response = client.post("", json=bundle)
    assert response.status_code == 200, response.text
    first, second = response.json()["entry"]
    assert first["response"]["status"].startswith("201")
    assert second["response"]["status"].startswith("400")
    assert REFUSAL in second["response"]["outcome"]["issue"][0]["diagnostics"]
    assert _stored(client, code) == []


def test_bulk_import_runs_the_rule(client: httpx.Client) -> None:
    code, good = _code(), _code()
    lines = orjson.dumps(_parameter(code, usable=False)) + b"\n" + orjson.dumps(_parameter(good)) + b"\n"
    headers = {"Content-Type": "application/fhir+ndjson", "Prefer": "respond-async"}
    started = client.post("/$import", content=lines, headers=headers)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while (polled := client.get(started.headers["Content-Location"])).status_code == 202:
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.2)
    manifest = polled.json()
    (error,) = manifest["error"]
    outcome = orjson.loads(client.get(error["url"]).content.splitlines()[0])
    assert REFUSAL in outcome["issue"][0]["diagnostics"]
    assert _stored(client, code) == [] and len(_stored(client, good)) == 1


def _cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "fhir_server", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, env=env)


def _documents(database: EmbeddedDatabase, name: str, collection: str, flt: dict) -> list[dict]:
    mongo: MongoClient[dict[str, Any]]
    with MongoClient(database.uri) as mongo:
        return list(mongo[name][collection].find(flt))


def test_cli_import_runs_the_rule(database: EmbeddedDatabase, tmp_path: Path) -> None:
    code, name = _code(), f"rules_{uuid.uuid4().hex[:8]}"
    data = tmp_path / "sp.ndjson"
    data.write_bytes(orjson.dumps(_parameter(code, usable=False)) + b"\n")
    done = _cli("import", data, "--mongodb-uri", database.uri, "--database", name)
    assert done.returncode == 1, done.stderr
    assert f"{data}: line 1: " in done.stderr and REFUSAL in done.stderr
    assert _documents(database, name, "resources", {"type": "SearchParameter"}) == []


def test_the_demo_loader_runs_the_rule(database: EmbeddedDatabase, tmp_path: Path) -> None:
    code, name = _code(), f"rules_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "load"
    folder.mkdir()
    (folder / "sp.json").write_bytes(orjson.dumps({**_parameter(code, usable=False), "id": code}))
    args: list[str | Path] = ["serve", "--port", str(free_loopback_port()), "--auth", "open", "--load", folder]
    done = _cli(*args, "--mongodb-uri", database.uri, "--database", name)
    assert done.returncode == 1, done.stderr
    assert "serve --load failed" in done.stderr and REFUSAL in done.stderr
    assert _documents(database, name, "resources", {"type": "SearchParameter"}) == []


@pytest.fixture(scope="module")
def site(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server with the site rules of tests/site_rules.py and an MLLP listener."""
    name, mllp_port = f"siterules_{uuid.uuid4().hex[:8]}", free_loopback_port()
    args = ["--mongodb-uri", database.uri, "--database", name, "--mllp-port", str(mllp_port)]
    log = tmp_path_factory.mktemp("site") / "server.log"
    server = ServerProcess(args, log, env={"FHIR_RULE_MODULES": "tests.site_rules"})
    yield server, name, mllp_port
    assert server.stop() == 0


def test_hl7_messages_run_the_rules(site: Site, tmp_path: Path) -> None:
    server, _name, mllp_port = site
    message = (
        "MSH|^~\\&|REG|CLINIC|FHIR|CLINIC|20240101120000||ADT^A04^ADT_A01|RULE1|P|2.5.1\r"
        "EVN|A04|20240101120000\r"
        f"PID|1||MRNRULE^^^CLINIC^MR||{REFUSED_FAMILY}^Jane||19800101|F\r"
    )
    path = tmp_path / "adt.hl7"
    path.write_text(message.replace("\r", "\n"))
    sent = subprocess.run(
        [mllp_send_command(), "--loose", "-p", str(mllp_port), "-f", str(path), "127.0.0.1"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    (ack,) = [line for line in sent.stdout.decode().split("\n") if line.strip()]
    assert segment(ack, "MSA")[1:3] == ["AE", "RULE1"], ack
    errors = [line.split("|")[8] for line in ack.split("\r") if line.startswith("ERR|")]
    assert any("refused by a site rule" in text for text in errors), errors
    with httpx.Client(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:
        assert http.get("/Patient", params={"family": REFUSED_FAMILY}).json().get("entry") is None
        assert http.post("/Patient", json=new_patient(REFUSED_FAMILY)).status_code == 422


def test_deletes_run_the_rules(site: Site) -> None:
    server, _name, _port = site
    family = f"Kept{uuid.uuid4().hex[:8]}"
    kept = {**new_patient(family), "meta": {"tag": [{"system": KEPT_TAG, "code": "yes"}]}}
    with httpx.Client(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:
        resource_id = http.post("/Patient", json=kept).json()["id"]
        assert http.delete(f"/Patient/{resource_id}").status_code == 409
        assert http.delete("/Patient", params={"family": family}).status_code == 409
        bundle = {"resourceType": "Bundle", "type": "transaction",
                  "entry": [{"request": {"method": "DELETE", "url": f"Patient/{resource_id}"}}]}  # fmt: skip
        assert http.post("", json=bundle).status_code == 409
        assert http.get(f"/Patient/{resource_id}").json()["meta"]["versionId"] == "1"


def test_a_rule_lock_makes_its_check_race_free(site: Site, database: EmbeddedDatabase) -> None:
    """Twelve concurrent creates of a Patient with one unique identifier: exactly one commits."""
    server, name, _port = site
    value = uuid.uuid4().hex
    patient = new_patient("Unique", identifier=[{"system": UNIQUE_SYSTEM, "value": value}])

    def post(_n: int) -> int:
        with httpx.Client(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=120) as http:
            return http.post("/Patient", json=patient).status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(post, range(12)))
    assert statuses == [201] + [409] * 11, statuses
    with httpx.Client(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:
        found = http.get("/Patient", params={"identifier": f"{UNIQUE_SYSTEM}|{value}"}).json()
    (entry,) = found["entry"]
    (logged,) = _documents(database, name, LOG, {"token": f"{UNIQUE_SYSTEM}|{value}"})
    assert logged["_id"] == f"{entry['resource']['id']}/1"
    (lock,) = _documents(database, name, "conditions", {"_id": f"rule/{UNIQUE_SYSTEM}|{value}"})
    assert lock["n"] >= 1


def test_restore_does_not_run_the_rules(database: EmbeddedDatabase, tmp_path: Path) -> None:
    """A backup puts back what was stored, even what today's rules would refuse (README: write rules)."""
    source, target = f"rules_{uuid.uuid4().hex[:8]}", f"rules_{uuid.uuid4().hex[:8]}"
    data = tmp_path / "p.ndjson"
    data.write_bytes(orjson.dumps({**new_patient(REFUSED_FAMILY), "id": "old"}) + b"\n")
    where = ["--mongodb-uri", database.uri, "--database"]
    assert _cli("import", data, *where, source).returncode == 0
    rules = {**os.environ, "FHIR_RULE_MODULES": "tests.site_rules"}
    refused = _cli("import", data, *where, target, env=rules)
    assert refused.returncode == 1 and "refused by a site rule" in refused.stderr
    assert _cli("backup", tmp_path / "backup", *where, source, "--settle", "0.2").returncode == 0
    restored = _cli("restore", tmp_path / "backup", *where, target, env=rules)
    assert restored.returncode == 0, restored.stderr
    assert [doc["id"] for doc in _documents(database, target, "resources", {"type": "Patient"})] == ["old"]
