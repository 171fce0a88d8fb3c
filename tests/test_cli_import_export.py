"""`fhir-server import` and `fhir-server export`, run as commands on their own embedded databases."""

from __future__ import annotations

import gzip
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from pymongo import MongoClient

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.audit_search import entries

FIXTURE = Path(__file__).parent / "fixtures" / "synthea-sample.json.gz"


def cli(*args: str | Path, timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `fhir-server` command as a child process (stderr is not a TTY: plain progress lines)."""
    command = [sys.executable, "-m", "fhir_server", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, input=input)


DUMPED = (
    "resources",
    "history",
    "conditions",
    "audit_inbox",
    "audit",
    "import_records",
    "auth_users",
    "auth_clients",
    "auth_keys",
)


def dump(data_dir: Path | None = None, *, uri: str | None = None, database: str = "fhir") -> dict[str, list[Any]]:
    """Every document of the collections a backup keeps (but the HL7 ones), sorted by _id, from a data dir or a URI."""
    if uri is None:
        assert data_dir is not None
        with EmbeddedDatabase(data_dir) as embedded:
            return dump(uri=embedded.uri, database=database)
    client: MongoClient[dict[str, Any]]
    with MongoClient(uri, tz_aware=True) as client:
        db = client[database]
        return {name: list(db[name].find({}).sort("_id", 1)) for name in DUMPED}


def write_ndjson(path: Path, *resources: dict[str, Any] | str) -> Path:
    lines = [r if isinstance(r, str) else orjson.dumps(r).decode() for r in resources]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_json(path: Path, document: Any) -> Path:
    path.write_bytes(orjson.dumps(document))
    return path


def patient(resource_id: str, family: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": resource_id, "name": [{"family": family}], **extra}


def _synthea_resources() -> int:
    return sum(len(bundle["entry"]) for bundle in orjson.loads(gzip.decompress(FIXTURE.read_bytes())))


def test_import_good_and_bad_files(tmp_path: Path) -> None:
    data = tmp_path / "in"
    (data / "nested").mkdir(parents=True)
    shutil.copy(FIXTURE, data / "nested" / "synthea.json.gz")
    write_ndjson(
        data / "patients.ndjson",
        patient("p1", "One"),
        "{not json",
        patient("p2", "Two", gender="bogus"),
        patient("p3", "Three"),
        patient("p1", "One again"),  # same resource later in the file: a second version, in order
    )
    with gzip.open(data / "more.ndjson.gz", "wt") as out:
        out.write(orjson.dumps(patient("p4", "Four")).decode() + "\n")
    bad_transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient("t1", "Fine"), "request": {"method": "PUT", "url": "Patient/t1"}},
            {
                "resource": patient("t2", "Bad", birthDate="yesterday"),
                "request": {"method": "PUT", "url": "Patient/t2"},
            },
        ],
    }
    write_json(data / "bad-transaction.json", bad_transaction)
    collection = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient("c1", "Collected")}, {"resource": {"id": "no-type"}}],
    }
    write_json(data / "collection.json", collection)
    (data / "broken.json").write_text("{ nope")
    data_dir = tmp_path / "data"

    done = cli("import", data, tmp_path / "missing.ndjson", "--data-dir", data_dir)

    assert done.returncode == 1, done.stderr
    expected = _synthea_resources() + 4 + 1  # Synthea; p1 twice, p3, p4; c1
    assert f"Imported {expected:,} resources from 6 files" in done.stdout
    assert "6 failures" in done.stdout
    errors = done.stderr
    assert f"{data / 'patients.ndjson'}: line 2: not JSON" in errors
    assert f"{data / 'patients.ndjson'}: line 3: " in errors and "gender" in errors
    assert f"{data / 'bad-transaction.json'}: entry 1" in errors
    assert f"{data / 'collection.json'}: entry 1: not a FHIR resource" in errors
    assert f"{data / 'broken.json'}: not JSON" in errors
    assert "missing.ndjson: no such file or folder" in errors

    assert f"{data / 'patients.ndjson'}: 3 resources imported; 2 failed." in done.stdout  # once committed
    assert f"{data / 'more.ndjson.gz'}: 1 resource imported." in done.stdout

    stored = dump(data_dir)
    again = cli("import", data, "--data-dir", data_dir)  # what was stored is skipped; the bad parts fail again
    assert again.returncode == 1, again.stderr
    assert "Imported 0 resources from 6 files" in again.stdout and "5 failures" in again.stdout
    assert f"{data / 'more.ndjson.gz'}: already imported; skipped." in again.stdout
    assert f"{data / 'patients.ndjson'}: 0 resources imported; 3 parts skipped as already imported; 2 failed." in (
        again.stdout
    )  # the lines stored one by one when their chunk failed are recorded one by one
    assert f"{data / 'patients.ndjson'}: line 3: " in again.stderr
    assert dump(data_dir) == stored  # no new version, no new audit record
    current = {doc["_id"]: doc for doc in stored["resources"]}
    assert current["Patient/p1"]["version"] == 2
    assert orjson.loads(current["Patient/p1"]["body"])["name"][0]["family"] == "One again"
    assert {"Patient/p3", "Patient/p4", "Patient/c1"} <= set(current)
    assert not {"Patient/p2", "Patient/t1", "Patient/t2"} & set(current)  # a failed transaction writes nothing
    assert len(current) == expected - 1
    audited = [event for record in stored["audit_inbox"] for _key, event in entries(record)]  # by the CLI (unsealed)
    assert len(audited) == len(stored["history"])
    assert len(stored["audit_inbox"]) < len(audited) / 10  # the events of one transaction are stored as one pack
    assert {event["agent"][0]["altId"] for event in audited} == {"cli"}


def _normalized_lines(folder: Path) -> dict[str, list[Any]]:
    """Each export file's resources, without the server-stamped meta.versionId/lastUpdated, sorted."""
    files: dict[str, list[Any]] = {}
    for path in sorted(folder.glob("*.ndjson")):
        resources = []
        for line in path.read_bytes().splitlines():
            resource = orjson.loads(line)
            meta = resource.get("meta", {})
            meta.pop("versionId"), meta.pop("lastUpdated")
            if not meta:
                resource.pop("meta")
            resources.append(orjson.dumps(resource, option=orjson.OPT_SORT_KEYS))
        files[path.name] = sorted(resources)
    return files


def test_export_round_trip(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    source = write_ndjson(tmp_path / "extra.ndjson", patient("gone", "Deleted"), patient("kept", "Kept"))
    assert cli("import", FIXTURE, source, "--data-dir", first).returncode == 0
    deletion = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"request": {"method": "DELETE", "url": "Patient/gone"}}],
    }
    assert cli("import", write_json(tmp_path / "delete.json", deletion), "--data-dir", first).returncode == 0

    done = cli("export", tmp_path / "export1", "--data-dir", first)
    assert done.returncode == 0, done.stderr
    assert f"Exported {_synthea_resources() + 1:,} resources" in done.stdout
    exported = tmp_path / "export1"
    assert (exported / "Patient.ndjson").is_file() and (exported / "Observation.ndjson").is_file()
    assert b'"id":"gone"' not in (exported / "Patient.ndjson").read_bytes()
    # the stored bodies, as they are
    stored = {doc["_id"]: doc["body"] for doc in dump(first)["resources"] if not doc["deleted"]}
    patients = (exported / "Patient.ndjson").read_bytes().splitlines()
    for line in patients:
        resource = orjson.loads(line)
        assert stored[f"Patient/{resource['id']}"] == line

    assert cli("import", exported, "--data-dir", second).returncode == 0
    assert cli("export", tmp_path / "export2", "--data-dir", second).returncode == 0
    assert _normalized_lines(exported) == _normalized_lines(tmp_path / "export2")
    assert sorted(p.name for p in exported.iterdir()) == sorted(p.name for p in (tmp_path / "export2").iterdir())


def _synthea_files(folder: Path, copies: int) -> int:
    """`copies` Synthea transaction Bundles (POST entries, urn:uuid fullUrls), one per file, each a
    different patient; returns the number of entries."""
    folder.mkdir()
    bundles = orjson.loads(gzip.decompress(FIXTURE.read_bytes()))
    entries = 0
    for number in range(copies):
        bundle = bundles[number % len(bundles)]
        patient = bundle["entry"][0]["resource"]
        assert patient["resourceType"] == "Patient"
        patient["name"][0]["family"] = f"Copy{number}"
        write_json(folder / f"bundle-{number:02d}.json", bundle)
        entries += len(bundle["entry"])
    return entries


def _interrupted(args: list[str | Path], signum: int, times: int = 1) -> tuple[int, list[str], str]:
    """Run `fhir-server ARGS` in a process group of its own, and once it prints its first finished file, send
    `signum` (`times` times) to the whole group, as a terminal's Ctrl-C does; (exit code, stdout lines, stderr)."""
    command = [sys.executable, "-m", "fhir_server", *map(str, args)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.endswith("resources imported.\n"), first
    for _time in range(times):
        os.killpg(process.pid, signum)
    out, err = process.communicate(timeout=120)
    return process.returncode, [first.rstrip("\n"), *out.splitlines()], err


def _counts(data_dir: Path) -> tuple[int, int, int]:
    stored = dump(data_dir)
    patients = sum(1 for doc in stored["resources"] if doc["type"] == "Patient")
    pieces = sum(record["resources"] for record in stored["import_records"] if ":" in record["_id"])
    assert pieces == len(stored["history"])  # every version belongs to one recorded piece: none half written
    return patients, len(stored["resources"]), len(stored["history"])


def test_an_interrupted_import_stops_at_once_and_resumes_without_duplicates(tmp_path: Path) -> None:
    inputs, data_dir = tmp_path / "in", tmp_path / "data"
    entries = _synthea_files(inputs, 9)
    write_ndjson(inputs / "patients.ndjson", *(patient(f"n{n}", f"Line{n}") for n in range(450)))
    args: list[str | Path] = ["import", inputs, "--data-dir", data_dir, "--jobs", "1"]

    code, lines, err = _interrupted(args, signal.SIGINT)

    assert code == 130, err
    assert "Traceback" not in err and "failed" not in err, err  # the database was not pulled from under it
    assert "Stopping: letting the writes in flight finish" in err
    stopped = lines[-1]
    assert stopped.startswith("Import stopped:") and "nothing half written" in stopped, lines
    resume = shlex.join(["fhir-server", *map(str, args)])
    assert stopped.endswith(f"To resume, run: {resume}"), stopped
    finished = [line for line in lines if line.endswith("resources imported.")]
    assert 1 <= len(finished) < 10
    patients, resources, versions = _counts(data_dir)
    assert patients == len(finished)  # each finished file is one patient; nothing of the others

    resumed = cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    for line in finished:
        assert f"{line.split(':')[0]}: already imported; skipped." in resumed.stdout
    assert f"Skipped as already imported: {len(finished)} files" in resumed.stdout
    patients, resources, versions = _counts(data_dir)
    assert patients == 9 + 450  # no duplicates
    assert resources == versions == entries + 450  # each written once

    stored = dump(data_dir)
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    assert "Imported 0 resources from 10 files" in again.stdout
    assert "Skipped as already imported: 10 files" in again.stdout
    assert again.stdout.count("already imported; skipped.") == 10
    assert dump(data_dir) == stored  # nothing created, no version added


def test_sigterm_stops_an_import_like_ctrl_c(tmp_path: Path) -> None:
    inputs, data_dir = tmp_path / "in", tmp_path / "data"
    _synthea_files(inputs, 4)
    code, lines, err = _interrupted(["import", inputs, "--data-dir", data_dir, "--jobs", "1"], signal.SIGTERM)
    assert code == 128 + signal.SIGTERM, err
    assert lines[-1].startswith("Import stopped:"), lines
    finished = sum(1 for line in lines if line.endswith("resources imported."))
    assert _counts(data_dir)[0] == finished < 4


def test_a_second_ctrl_c_abandons_the_writes_in_flight_whole(tmp_path: Path) -> None:
    inputs, data_dir = tmp_path / "in", tmp_path / "data"
    entries = _synthea_files(inputs, 6)
    args: list[str | Path] = ["import", inputs, "--data-dir", data_dir, "--jobs", "2"]
    code, lines, err = _interrupted(args, signal.SIGINT, times=2)
    assert code == 130, err
    assert lines[-1].startswith("Import stopped:"), lines
    assert _counts(data_dir)[0] < 6  # and each Bundle is there whole or not at all (checked by _counts)
    resumed = cli(*args)
    assert resumed.returncode == 0, resumed.stderr
    assert _counts(data_dir) == (6, entries, entries)
