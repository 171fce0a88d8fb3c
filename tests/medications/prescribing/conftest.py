"""A prescriber's server with authorization on (auth=smart), tokens minted into its database, and helpers
to build a patient with a draft prescription. The session server (auth open) plays the external pharmacy."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient, MongoClient

from fhir_server.auth import Grant
from fhir_server.storage import EmbeddedDatabase
from fhir_server.storage.grants import MongoGrantStore
from tests.conftest import FHIR_JSON, ServerProcess

DATABASE = "fhir_prescribing_tests"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
WARFARIN, IBUPROFEN, ACETAMINOPHEN, AMOXICILLIN, LISINOPRIL = "855332", "197805", "198440", "308191", "314076"
NAPROXEN_INGREDIENT, PENICILLIN = "7258", "70618"


@pytest.fixture(scope="session")
def rx_server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("prescribing")
    args = ["--mongodb-uri", database.uri, "--database", DATABASE]
    env = {"FHIR_PRESCRIBING_POLL_SECONDS": "0.3", "FHIR_PRESCRIBING_RETRY_SECONDS": "0.3"}
    process = ServerProcess(args, folder / "server.log", env=env, auth="smart")
    yield process
    process.stop()
    MongoClient(database.uri).drop_database(DATABASE)


async def _issue(uri: str, grant: Grant) -> str:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        return await MongoGrantStore(client, DATABASE).issue(grant)
    finally:
        await client.close()


Connect = Callable[..., httpx.Client]


@pytest.fixture(scope="session")
def connect(database: EmbeddedDatabase, rx_server: ServerProcess) -> Connect:
    """`connect(role="physician", fhir_user="Practitioner/1")` → an HTTP client with such a token."""

    def make(role: str = "admin", fhir_user: str | None = None, scope: str = "user/*.cruds") -> httpx.Client:
        issued = datetime.now(UTC)
        scopes = (*scope.split(), "openid", "fhirUser")
        grant = Grant(kind="access", client_id="rx-tests", scopes=scopes, issued_at=issued,
                      expires_at=issued + timedelta(hours=1), family=uuid.uuid4().hex, subject="someone",
                      role=role, fhir_user=fhir_user)  # fmt: skip
        token = asyncio.run(_issue(database.uri, grant))
        headers = {**FHIR_JSON, "Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=f"{rx_server.base}/fhir", headers=headers, timeout=30)

    return make


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class Clinic:
    """A physician (with their client), a nurse client and an admin client."""

    physician: str
    doctor: httpx.Client
    nurse: httpx.Client
    admin: httpx.Client


@pytest.fixture()
def clinic(connect: Connect) -> Iterator[Clinic]:
    with connect() as admin:
        practitioner = created(
            admin.post(
                "/Practitioner", json={"resourceType": "Practitioner", "name": [{"family": "House", "given": ["Greg"]}]}
            )
        )
        me = f"Practitioner/{practitioner['id']}"
        with connect("physician", me) as doctor, connect("nurse", "Practitioner/nurse1") as nurse:
            yield Clinic(me, doctor, nurse, admin)


def new_patient(client: httpx.Client, family: str = "Rx") -> str:
    body = {"resourceType": "Patient", "name": [{"family": family, "given": ["Pat"]}], "birthDate": "1970-01-01"}
    return f"Patient/{created(client.post('/Patient', json=body))['id']}"


def draft(patient: str, code: str = LISINOPRIL, *, dose: dict[str, Any] | None = None, frequency: int = 1,
          quantity: Any = 30, **extra: Any) -> dict[str, Any]:  # fmt: skip
    """A complete draft prescription: one unit `frequency` times a day for 30 days."""
    return {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": patient},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code}]},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": frequency, "period": 1, "periodUnit": "d"}},
                "route": {"text": "by mouth"},
                "doseAndRate": [
                    {
                        "doseQuantity": dose
                        or {"value": 1, "unit": "tablet", "code": "{tbl}", "system": "http://unitsofmeasure.org"}
                    }
                ],
            }
        ],  # fmt: skip
        "dispenseRequest": {
            "quantity": {"value": quantity, "unit": "tablet"},
            "numberOfRepeatsAllowed": 2,
            "expectedSupplyDuration": {"value": 30, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d"},
        },  # fmt: skip
        "substitution": {"allowedBoolean": True},
        **extra,
    }


def active_medication(client: httpx.Client, patient: str, code: str, system: str = RXNORM) -> str:
    """A MedicationStatement saying the patient takes `code`."""
    body = {"resourceType": "MedicationStatement", "status": "active", "subject": {"reference": patient},
            "medicationCodeableConcept": {"coding": [{"system": system, "code": code}]}}  # fmt: skip
    return f"MedicationStatement/{created(client.post('/MedicationStatement', json=body))['id']}"


def allergy(client: httpx.Client, patient: str, code: str) -> str:
    body = {"resourceType": "AllergyIntolerance", "patient": {"reference": patient},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": RXNORM, "code": code}]}}  # fmt: skip
    return f"AllergyIntolerance/{created(client.post('/AllergyIntolerance', json=body))['id']}"


def sign(client: httpx.Client, request_id: str, override: str | None = None) -> httpx.Response:
    parameters: dict[str, Any] = {"resourceType": "Parameters", "parameter": []}
    if override is not None:
        parameters["parameter"].append({"name": "overrideReason", "valueString": override})
    return client.post(f"/MedicationRequest/{request_id}/$sign", json=parameters)


def out(parameters: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p["resource"] for p in parameters["parameter"] if p["name"] == name]
