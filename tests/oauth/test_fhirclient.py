"""The Python `fhirclient` library does a standalone launch against the server.

It reads the endpoints from the CapabilityStatement (the oauth-uris extension), builds the
authorize URL with PKCE, and exchanges the code; the consent step in between is done by
`approve()` until the login pages exist.
"""

from __future__ import annotations

import httpx
from fhirclient import client as fhirclient
from fhirclient.models.patient import Patient

from fhir_server.storage import EmbeddedDatabase

from .conftest import REDIRECT, approve, parked_id, register


def test_fhirclient_standalone_launch(http: httpx.Client, database: EmbeddedDatabase, fhir_base: str) -> None:
    created = http.post("/fhir/Patient", json={"resourceType": "Patient", "name": [{"family": "Chalmers",
                        "given": ["Peter"]}]}, headers={"Content-Type": "application/fhir+json"})  # fmt: skip
    assert created.status_code == 201, created.text
    patient_id = created.json()["id"]
    app = register(database)
    smart = fhirclient.FHIRClient(
        settings={
            "app_id": app.client_id,
            "api_base": fhir_base,
            "redirect_uri": REDIRECT,
            "scope": "launch/patient openid fhirUser patient/*.rs offline_access",
        }  # fmt: skip
    )
    assert not smart.ready
    authorize = http.get(smart.authorize_url)
    answer = approve(database, parked_id(authorize), patient=patient_id, subject="patient-user",
                     fhir_user=f"Patient/{patient_id}")  # fmt: skip
    callback = httpx.URL(REDIRECT, params=answer)
    smart.handle_callback(str(callback))
    assert smart.ready and smart.patient_id == patient_id
    assert smart.server.auth.refresh_token
    patient = smart.patient
    assert isinstance(patient, Patient) and smart.human_name(patient.name[0]) == "Peter Chalmers"
    assert smart.reauthorize() is not None and smart.ready  # refresh with the refresh token
