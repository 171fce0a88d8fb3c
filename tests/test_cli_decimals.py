"""Decimals through the commands: `import` reads them exactly, `backup` and `restore` carry them exactly,
and the restored server searches them by exact value. An imported object that repeats a key is refused."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx

from tests.conftest import FHIR_JSON, ServerProcess
from tests.test_cli_import_export import cli, write_ndjson

OBSERVATION = (
    '{"resourceType": "Observation", "id": "%s", "status": "final", "code": {"text": "weight"},'
    ' "valueQuantity": {"value": %s, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"}}'
)


def test_import_backup_and_restore_keep_every_digit(tmp_path: Path) -> None:
    data_dir, backup, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    lines = write_ndjson(
        tmp_path / "observations.ndjson",
        OBSERVATION % ("exact", "0.1000000000000000055"),
        OBSERVATION % ("plain", "0.1"),
        OBSERVATION % ("trailing", "1.10"),
        '{"resourceType": "Patient", "gender": "male", "gender": "female"}',
    )
    done = cli("import", lines, "--data-dir", data_dir)
    assert done.returncode != 0  # the last line is refused
    assert f"{lines}: line 4: not JSON: repeated key: Patient.gender" in done.stderr
    assert cli("backup", backup, "--data-dir", data_dir, "--settle", "0.2").returncode == 0
    history = gzip.decompress((backup / "history.ndjson.gz").read_bytes())
    assert b'"value":0.1000000000000000055' in history and b'"value":1.10,' in history
    done = cli("restore", backup, "--data-dir", restored)
    assert done.returncode == 0, done.stderr

    server = ServerProcess(["--data-dir", str(restored)], tmp_path / "server.log")
    try:
        with httpx.Client(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:
            assert '"value":0.1000000000000000055' in http.get("/Observation/exact").text
            assert '"value":1.10,' in http.get("/Observation/trailing").text
            found = http.get("/Observation", params={"value-quantity": "gt0.1"}).json()
            assert sorted(e["resource"]["id"] for e in found["entry"]) == ["exact", "trailing"]
            assert http.get("/Patient").json()["total"] == 0
    finally:
        server.stop()
