"""`openid fhirUser`: a token reads the resource its user stands for, and nothing more, without a scope for its type."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.auth_server import World


def test_a_practitioner_reads_their_own_practitioner_resource_only(
    connect: Callable[..., httpx.Client], world: World
) -> None:
    me = f"Practitioner/{world.practitioner}"
    other = world.admin.post("/Practitioner", json={"resourceType": "Practitioner", "name": [{"family": "Other"}]})
    assert other.status_code == 201, other.text
    with connect("openid fhirUser user/Observation.rs", role="nurse", fhir_user=me) as nurse:
        own = nurse.get(f"/{me}")
        assert own.status_code == 200, own.text
        assert own.json()["id"] == world.practitioner
        assert nurse.get(f"/Practitioner/{other.json()['id']}").status_code == 404  # as if it did not exist
        assert nurse.get("/Practitioner", params={"_id": world.practitioner}).status_code == 403  # read, not search
        assert nurse.put(f"/{me}", json={**own.json(), "active": True}).status_code == 403
        assert nurse.get(f"/Patient/{world.patient['a']}").status_code == 403  # no other type comes with it


def test_without_openid_and_fhirUser_the_own_resource_needs_a_scope(
    connect: Callable[..., httpx.Client], world: World
) -> None:
    me = f"Practitioner/{world.practitioner}"
    cases = [("fhirUser user/Observation.rs", me), ("openid user/Observation.rs", me),
             ("openid fhirUser user/Observation.rs", None)]  # fmt: skip
    for scope, fhir_user in cases:
        with connect(scope, role="nurse", fhir_user=fhir_user) as client:
            assert client.get(f"/{me}").status_code == 403, scope


def test_a_patient_reads_their_own_patient_resource(connect: Callable[..., httpx.Client], world: World) -> None:
    me = world.patient["a"]
    with connect("openid fhirUser patient/Observation.rs", role="patient", patient=me,
                 fhir_user=f"Patient/{me}") as patient:  # fmt: skip
        assert patient.get(f"/Patient/{me}").status_code == 200
        assert patient.get(f"/Patient/{world.patient['b']}").status_code == 404
    with connect("openid fhirUser patient/Observation.rs", role="patient", patient=me) as nameless:
        assert nameless.get(f"/Patient/{me}").status_code == 403  # no fhirUser on the token: no own resource
