"""`fhir-server serve --mllp-port`: the listener in the server process, the message log over HTTP,
the Provenance of each message, and `fhir-server mllp reprocess` for a message that failed."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.embedded import free_loopback_port
from tests.conftest import FHIR_JSON, ServerProcess

from . import FIXTURES, mllp_send_command, segment

PATIENT_KEY = "urn:hl7v2:assigning-authority:LAB|MRN9"


def _send(port: int, path: Path) -> list[str]:
    sent = subprocess.run(
        [mllp_send_command(), "--loose", "-p", str(port), "-f", str(path), "127.0.0.1"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    return [ack for ack in sent.stdout.decode().split("\n") if ack.strip()]


def _patient(family: str) -> dict[str, object]:
    system, value = PATIENT_KEY.split("|")
    return {"resourceType": "Patient", "identifier": [{"system": system, "value": value}], "name": [{"family": family}]}


def test_serve_receives_mllp_logs_and_reprocesses(database: EmbeddedDatabase, tmp_path: Path) -> None:
    name, mllp_port = f"hl7serve_{uuid.uuid4().hex[:8]}", free_loopback_port()
    database_args = ["--mongodb-uri", database.uri, "--database", name]
    server = ServerProcess([*database_args, "--mllp-port", str(mllp_port)], tmp_path / "server.log")
    try:
        with httpx.Client(base_url=server.base, headers=FHIR_JSON, timeout=30) as http:
            (ack,) = _send(mllp_port, FIXTURES / "fhirconv_ORU-R01-RMGEAD.hl7")
            assert segment(ack, "MSA")[1:3] == ["AA", "CNTRL-3456"]
            log = http.get("/admin/hl7/messages").json()
            assert log["counts"] == {"received": 0, "processed": 1, "error": 0}
            (entry,) = log["messages"]
            assert entry["controlId"] == "CNTRL-3456" and entry["sendingApp"] == "GHH LAB"
            observation = next(r for r in entry["resources"] if r.startswith("Observation/")).split("/_history")[0]
            assert http.get(f"/fhir/{observation}").json()["status"] == "final"
            (provenance,) = [e["resource"] for e in http.get(f"/fhir/Provenance?target={observation}").json()["entry"]]
            assert provenance["entity"][0]["what"]["identifier"]["value"] == entry["id"]
            assert provenance["agent"][0]["who"]["identifier"]["value"] == "GHH LAB"
            assert {t["reference"] for t in provenance["target"]} >= {observation}

            for family in ("Twin", "Twain"):  # two Patients with the lab's identifier: results can't be filed
                assert http.post("/fhir/Patient", json=_patient(family)).status_code == 201
            message = (
                "MSH|^~\\&|LAB|LABFAC|FHIR|CLINIC|20240101120000||ORU^R01^ORU_R01|R9|P|2.5.1\r"
                "PID|1||MRN9^^^LAB^MR||Twin^Jane||19800101|F\r"
                "OBR|1|ORD9|FIL9|2345-7^Glucose^LN|||20240101110000|||||||||||||||20240101115000|||F\r"
                "OBX|1|NM|2345-7^Glucose^LN||5.4|mmol/L|||||F\r"
            )
            (tmp_path / "r9.hl7").write_text(message.replace("\r", "\n"))
            (ack,) = _send(mllp_port, tmp_path / "r9.hl7")
            assert segment(ack, "MSA")[1] == "AE" and "match 2" in segment(ack, "ERR")[8]
            (failed,) = http.get("/admin/hl7/messages", params={"status": "error"}).json()["messages"]
            detail = http.get(f"/admin/hl7/messages/{failed['id']}").json()
            assert detail["raw"].startswith("MSH|") and segment(detail["acks"][0], "MSA")[1:3] == ["AE", "R9"]
            assert http.get("/admin/hl7/messages", params={"status": "lost"}).status_code == 400
            assert http.get("/admin/hl7/messages/nope").json()["resourceType"] == "OperationOutcome"

            twain = http.get("/fhir/Patient", params={"family": "Twain"}).json()["entry"][0]["resource"]
            assert http.delete(f"/fhir/Patient/{twain['id']}").status_code in (200, 204)
            rerun = subprocess.run(
                [sys.executable, "-m", "fhir_server", "mllp", "reprocess", "--failed", *database_args],
                capture_output=True, timeout=120,
            )  # fmt: skip
            assert rerun.returncode == 0, rerun.stderr
            assert f"{failed['id']} ORU^R01^ORU_R01 R9: processed" in rerun.stdout.decode()
            again = http.get(f"/admin/hl7/messages/{failed['id']}").json()
            assert again["status"] == "processed" and again["attempts"] == 2 and again["error"] is None
            assert segment(again["acks"][-1], "MSA")[1] == "AA"
    finally:
        assert server.stop() == 0
