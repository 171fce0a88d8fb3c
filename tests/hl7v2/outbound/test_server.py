"""`fhir-server serve` with FHIR_HL7_OUTBOUND: ServiceRequests posted over REST reach a TLS lab, on one connection."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import uuid
from pathlib import Path

import httpx

from adapters.hl7v2.outbound import OutboxStore
from fhir_server.storage import EmbeddedDatabase, MongoResourceStore
from tests.conftest import FHIR_JSON, ServerProcess

from . import CONNECTION, LOINC_GLUCOSE, TestLab, fields, statuses, until


def test_the_server_sends_orders_posted_over_rest_to_a_tls_lab(database: EmbeddedDatabase, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    name = f"out_srv_{uuid.uuid4().hex[:8]}"
    env = {"FHIR_HL7_OUTBOUND": "true", "FHIR_HL7_ACK_TIMEOUT": "5", "FHIR_HL7_RETRY_SECONDS": "0.1",
           "FHIR_HL7_TLS_CAFILE": str(cert)}  # fmt: skip
    server = ServerProcess(["--mongodb-uri", database.uri, "--database", name], tmp_path / "server.log", env)

    async def scenario() -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        lab = TestLab("AA")
        port = await lab.start(ssl=context)
        async with httpx.AsyncClient(base_url=f"{server.base}/fhir", headers=FHIR_JSON, timeout=30) as http:

            async def post(body: dict[str, object]) -> str:
                response = await http.post(f"/{body['resourceType']}", json=body)
                assert response.status_code == 201, response.text
                return f"{body['resourceType']}/{response.json()['id']}"

            address = f"mllps://127.0.0.1:{port}"
            endpoint = await post({"resourceType": "Endpoint", "status": "active", "connectionType": CONNECTION,
                                   "payloadType": [{"text": "lab orders"}], "address": address})  # fmt: skip
            lab_ref = await post({"resourceType": "Organization", "endpoint": [{"reference": endpoint}]})
            patient = await post({"resourceType": "Patient", "name": [{"family": "Tls"}]})
            order, other = [
                await post(
                    {
                        "resourceType": "ServiceRequest",
                        "status": "active",
                        "intent": "order",
                        "code": LOINC_GLUCOSE,
                        "subject": {"reference": patient},
                        "performer": [{"reference": lab_ref}],
                    }
                )  # fmt: skip
                for _ in range(2)
            ]
        store = MongoResourceStore.connect(database.uri, name)
        try:
            entries = await until(lambda: OutboxStore(store).of_order(order), lambda e: statuses(e) == ["acknowledged"])
            await until(lambda: OutboxStore(store).of_order(other), lambda e: statuses(e) == ["acknowledged"])
            assert len(lab.received) == 2 and lab.connections == [1, 1]
            assert entries[0].control_id in [fields(m, "MSH")[10] for m in lab.received]
            async with httpx.AsyncClient(base_url=f"{server.base}/admin/hl7", timeout=30) as admin:
                log = (await admin.get("/outbox", params={"status": "acknowledged"})).json()
                assert entries[0].id in [m["id"] for m in log["messages"]] and log["counts"]["acknowledged"] == 2
                one = (await admin.get(f"/outbox/{entries[0].id}")).json()
                assert one["controlId"] == entries[0].control_id and one["ack"].startswith("MSH|")
                assert (await admin.get("/outbox", params={"status": "lost"})).status_code == 400
                assert (await admin.get("/outbox/ServiceRequest/none/1")).status_code == 404
        finally:  # the database is this test's own; dropping it under the running server can hang SecantusDB
            await store.close()
            await lab.stop()

    try:
        asyncio.run(scenario())
    finally:
        assert server.stop() == 0
