"""The Python `fhirclient` library, signed in with `openid fhirUser`, reads the practitioner it is signed in as
on a server with authorization on, though its scopes name no Practitioner."""

from __future__ import annotations

import httpx
from fhirclient import client as fhirclient
from fhirclient.models.practitioner import Practitioner
from fhirclient.server import FHIRNotFoundException

from fhir_server.storage import EmbeddedDatabase
from tests.auth_server import AUTH_DATABASE, World
from tests.conftest import ServerProcess
from tests.oauth.conftest import REDIRECT, approve, parked_id, register


def test_fhirclient_reads_the_signed_in_practitioner(
    auth_server: ServerProcess, database: EmbeddedDatabase, world: World
) -> None:
    app = register(database, db=AUTH_DATABASE)
    smart = fhirclient.FHIRClient(
        settings={
            "app_id": app.client_id,
            "api_base": f"{auth_server.base}/fhir",
            "redirect_uri": REDIRECT,
            "scope": "openid fhirUser launch/patient patient/Observation.rs",
        }
    )
    with httpx.Client(base_url=auth_server.base, timeout=30) as http:
        parked = parked_id(http.get(smart.authorize_url))
    answer = approve(database, parked, db=AUTH_DATABASE, patient=world.patient["a"], subject="dr-careful",
                     role="physician", fhir_user=f"Practitioner/{world.practitioner}")  # fmt: skip
    smart.handle_callback(str(httpx.URL(REDIRECT, params=answer)))
    assert smart.ready and smart.patient_id == world.patient["a"]
    me = Practitioner.read(world.practitioner, smart.server)
    assert me.id == world.practitioner and me.name[0].family == "Shared"
    other = world.admin.post("/Practitioner", json={"resourceType": "Practitioner"}).json()["id"]
    try:
        Practitioner.read(other, smart.server)
    except FHIRNotFoundException:
        pass
    else:
        raise AssertionError("another practitioner was readable without a Practitioner scope")
