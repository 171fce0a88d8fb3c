"""A patient-A token never sees or changes patient B's record, whatever the interaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.auth_server import World, finished_export, outcome_text


@pytest.fixture()
def alice(connect: Callable[..., httpx.Client], world: World) -> Iterator[httpx.Client]:
    """Patient A's app: the default patient role's scopes, patient A in context."""
    with connect("patient/*.rs patient/Observation.cu launch/patient", role="physician",
                 patient=world.patient["a"]) as client:  # fmt: skip
        yield client


def _ids(bundle: dict) -> set[str]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])}


def _a_and_b(world: World, kind: str, resource_type: str) -> tuple[str, str]:
    ids = getattr(world, kind)
    return f"{resource_type}/{ids['a']}", f"{resource_type}/{ids['b']}"


def test_read_and_vread(alice: httpx.Client, world: World) -> None:
    own, other = _a_and_b(world, "lab", "Observation")
    assert alice.get(f"/{own}").status_code == 200
    assert alice.get(f"/{own}/_history/1").status_code == 200
    for path in (f"/{other}", f"/{other}/_history/1", f"/Patient/{world.patient['b']}"):
        response = alice.get(path)
        assert response.status_code == 404, path  # invisible: as if it did not exist
    assert alice.get(f"/Patient/{world.patient['a']}").status_code == 200
    assert alice.get(f"/Practitioner/{world.practitioner}").status_code == 200  # in no compartment


def test_search_sees_own_compartment_only(alice: httpx.Client, world: World) -> None:
    found = _ids(alice.get("/Observation", params={"_count": "1000"}).json())
    assert {f"Observation/{world.lab['a']}", f"Observation/{world.vitals['a']}"} <= found
    assert not {f"Observation/{world.lab['b']}", f"Observation/{world.vitals['b']}"} & found
    assert _ids(alice.get("/Patient").json()) == {f"Patient/{world.patient['a']}"}
    assert alice.get("/Observation", params={"subject": f"Patient/{world.patient['b']}"}).json()["total"] == 0
    assert alice.get(f"/Patient/{world.patient['b']}/Observation").json()["total"] == 0
    system = alice.get("/", params={"_type": "Patient,Condition"}).json()
    assert system["total"] == 2


def test_includes_pass_the_same_filters(alice: httpx.Client, world: World) -> None:
    bundle = alice.get("/Encounter", params={"_revinclude": "Observation:encounter", "_include": "Encounter:subject"})
    found = _ids(bundle.json())
    assert f"Patient/{world.patient['a']}" in found
    assert not any(world.patient["b"] in ref or world.lab["b"] in ref for ref in found)
    bundle = alice.get("/Observation", params={"_include": "Observation:performer"}).json()
    assert f"Practitioner/{world.practitioner}" in _ids(bundle)
    # B's Observations point at the shared Practitioner: a reverse include from it stays in A's compartment.
    bundle = alice.get("/Practitioner", params={"_id": world.practitioner, "_revinclude": "Observation:performer"})
    assert _ids(bundle.json()) == {f"Practitioner/{world.practitioner}", f"Observation/{world.lab['a']}",
                                   f"Observation/{world.vitals['a']}"}  # fmt: skip


def test_chains_and_has_do_not_leak(alice: httpx.Client, world: World) -> None:
    assert alice.get("/Observation", params={"subject:Patient.family": "FamilyB"}).json()["total"] == 0
    assert alice.get("/Observation", params={"subject:Patient.family": "FamilyA"}).json()["total"] >= 2
    has = alice.get("/Patient", params={"_has:Observation:subject:_id": world.lab["b"]}).json()
    assert has["total"] == 0


def test_chains_need_search_on_the_chained_type(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("patient/Observation.rs", role="patient", patient=world.patient["a"]) as client:
        response = client.get("/Observation", params={"subject:Patient.family": "FamilyA"})
        assert response.status_code == 403
        assert "Patient" in outcome_text(response)


def test_history_instance_type_and_system(alice: httpx.Client, world: World) -> None:
    own, other = _a_and_b(world, "condition", "Condition")
    assert alice.get(f"/{own}/_history").json()["total"] == 1
    assert alice.get(f"/{other}/_history").json()["total"] == 0
    type_level = _ids(alice.get("/Condition/_history").json())
    assert type_level == {own}
    system = _ids(alice.get("/_history", params={"_count": "1000"}).json())
    assert own in system and f"Patient/{world.patient['a']}" in system
    assert not any(world.patient["b"] in ref or ref == other for ref in system)


def test_everything_only_for_the_patient_in_context(alice: httpx.Client, world: World) -> None:
    found = _ids(alice.get(f"/Patient/{world.patient['a']}/$everything").json())
    assert f"Observation/{world.lab['a']}" in found
    assert not any(world.patient["b"] in ref for ref in found)
    assert alice.get(f"/Patient/{world.patient['b']}/$everything").status_code == 404
    type_level = _ids(alice.get("/Patient/$everything").json())
    assert f"Patient/{world.patient['b']}" not in type_level and f"Patient/{world.patient['a']}" in type_level


def test_transaction_entries(alice: httpx.Client, world: World) -> None:
    reads = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "GET", "url": f"Observation/{world.lab['b']}"}},
        {"request": {"method": "GET", "url": "Observation"}},
    ]}  # fmt: skip
    response = alice.post("/", json=reads)
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert entries[0]["response"]["status"].startswith("404")
    assert entries[1]["resource"]["total"] >= 2
    other = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
             "subject": {"reference": f"Patient/{world.patient['b']}"}}  # fmt: skip
    own = {**other, "subject": {"reference": f"Patient/{world.patient['a']}"}}
    writes = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Observation"}, "resource": own},
        {"fullUrl": "urn:uuid:x", "request": {"method": "POST", "url": "Observation"}, "resource": other},
    ]}  # fmt: skip
    response = alice.post("/", json=writes)
    assert response.status_code == 403
    assert "entry 1" in outcome_text(response)
    put = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "PUT", "url": f"Observation/{world.vitals['b']}"},
         "resource": {**other, "id": world.vitals["b"]}},
    ]}  # fmt: skip
    assert alice.post("/", json=put).status_code == 403
    assert alice.post("/", json={**writes, "entry": writes["entry"][:1]}).status_code == 200


def test_writes_stay_in_the_compartment(alice: httpx.Client, world: World) -> None:
    own = {"resourceType": "Observation", "status": "final", "code": {"text": "self-reported"},
           "subject": {"reference": f"Patient/{world.patient['a']}"}}  # fmt: skip
    created = alice.post("/Observation", json=own)
    assert created.status_code == 201, created.text
    other = {**own, "subject": {"reference": f"Patient/{world.patient['b']}"}}
    response = alice.post("/Observation", json=other)
    assert response.status_code == 403
    assert f"Patient/{world.patient['a']}" in outcome_text(response)
    moved = {**created.json(), "subject": {"reference": f"Patient/{world.patient['b']}"}}
    assert alice.put(f"/Observation/{created.json()['id']}", json=moved).status_code == 403
    theirs = {**other, "id": world.vitals["b"]}
    assert alice.put(f"/Observation/{world.vitals['b']}", json=theirs).status_code == 403
    assert (
        alice.post(
            "/Condition", json={"resourceType": "Condition", "subject": {"reference": f"Patient/{world.patient['a']}"}}
        ).status_code
        == 403
    )  # no `c`


def test_conditional_writes_do_not_see_other_patients(alice: httpx.Client, world: World) -> None:
    own = {"resourceType": "Observation", "status": "final", "code": {"text": "conditional"},
           "subject": {"reference": f"Patient/{world.patient['a']}"}}  # fmt: skip
    criteria = f"_id={world.lab['b']}"
    response = alice.post("/Observation", json=own, headers={"If-None-Exist": criteria})
    assert response.status_code == 201  # B's match is invisible: nothing returned of it
    assert response.json()["id"] != world.lab["b"]
    response = alice.put(f"/Observation?{criteria}", json=own)
    assert response.status_code == 201
    assert response.json()["id"] != world.lab["b"]
    assert world.admin.get(f"/Observation/{world.lab['b']}").json()["code"]["text"] == "laboratory"


def test_patient_level_export_is_confined(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("patient/*.rs", role="patient", patient=world.patient["a"], client_id="exporter") as client:
        poll, status = finished_export(client, "/Patient/$export")
        assert status.status_code == 200, status.text
        manifest = status.json()
        assert manifest["requiresAccessToken"] is True
        lines = []
        for output in manifest["output"]:
            assert httpx.get(output["url"]).status_code == 401
            lines += client.get(output["url"]).text.splitlines()
        assert lines and not any(world.patient["b"] in line for line in lines)
        with connect("patient/*.rs", role="patient", patient=world.patient["a"], client_id="another") as stranger:
            assert stranger.get(poll).status_code == 403
        other = client.get("/Patient/$export", params={"patient": world.patient["b"]},
                           headers={"Prefer": "respond-async"})  # fmt: skip
        assert other.status_code == 403


def test_deletions_stay_in_the_patients_history(alice: httpx.Client, world: World) -> None:
    condition = {"resourceType": "Condition", "subject": {"reference": f"Patient/{world.patient['a']}"}}
    created = world.admin.post("/Condition", json=condition).json()
    assert world.admin.delete(f"/Condition/{created['id']}").status_code == 204
    assert alice.get(f"/Condition/{created['id']}").status_code == 410  # A's own: gone, not hidden
    history = alice.get(f"/Condition/{created['id']}/_history").json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
