"""Granular (v2 query) scopes, v1 scopes, user-level tokens, roles as ceilings at request time, open mode."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.auth_server import CATEGORY, World, outcome_text
from tests.conftest import ServerProcess

LAB = f"patient/Observation.rs?category={CATEGORY}|laboratory"
VITALS = f"patient/Observation.rs?category={CATEGORY}|vital-signs"


def _ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json().get("entry", [])}


def test_granular_scope_filters_search_read_and_includes(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect(f"{LAB} patient/Encounter.rs", role="patient", patient=world.patient["a"]) as client:
        assert _ids(client.get("/Observation")) == {world.lab["a"]}
        assert _ids(client.get("/Observation", params={"category": "vital-signs"})) == set()
        assert client.get(f"/Observation/{world.lab['a']}").status_code == 200
        assert client.get(f"/Observation/{world.vitals['a']}").status_code == 404  # as if it did not exist
        assert client.get(f"/Observation/{world.vitals['a']}/_history/1").status_code == 404
        found = _ids(client.get("/Encounter", params={"_revinclude": "Observation:encounter"}))
        assert found == {world.encounter["a"], world.lab["a"]}
        history = client.get("/Observation/_history", params={"_count": "1000"})
        assert history.status_code == 200  # only versions matching the query (tests/auth/test_granular_reads.py)
        assert world.vitals["a"] not in history.text and world.lab["b"] not in history.text


def test_granular_scopes_for_one_type_or_together(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect(f"{LAB} {VITALS}", role="patient", patient=world.patient["a"]) as client:
        assert _ids(client.get("/Observation")) == {world.lab["a"], world.vitals["a"]}


def test_granular_scope_grants_writes_matching_its_query(connect: Callable[..., httpx.Client], world: World) -> None:
    scope = f"patient/Observation.cruds?category={CATEGORY}|laboratory"
    with connect(scope, role="physician", patient=world.patient["a"]) as client:
        observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                       "category": [{"coding": [{"system": CATEGORY, "code": "laboratory"}]}],
                       "subject": {"reference": f"Patient/{world.patient['a']}"}}  # fmt: skip
        assert client.post("/Observation", json=observation).status_code == 201
        observation["category"][0]["coding"][0]["code"] = "vital-signs"
        assert client.post("/Observation", json=observation).status_code == 403


def test_v1_scopes(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("patient/Observation.read patient/Patient.read", role="patient", patient=world.patient["a"]) as c:
        found = _ids(c.get("/Observation", params={"_count": "1000"}))
        assert {world.lab["a"], world.vitals["a"]} <= found and not {world.lab["b"], world.vitals["b"]} & found
        assert c.post("/Observation", json={"resourceType": "Observation"}).status_code == 403
    with connect("user/*.read", role="physician") as client:
        found = _ids(client.get("/Observation", params={"_count": "1000"}))
        assert {world.lab["a"], world.lab["b"]} <= found


def test_user_tokens_see_every_patient(connect: Callable[..., httpx.Client], world: World) -> None:
    with connect("user/*.cruds", role="physician") as client:
        assert client.get(f"/Patient/{world.patient['b']}").status_code == 200
        assert client.get(f"/Patient/{world.patient['b']}/$everything").status_code == 200
        assert client.get(f"/Condition/{world.condition['b']}/_history").json()["total"] >= 1


def test_patient_scopes_need_a_patient_in_context(connect: Callable[..., httpx.Client]) -> None:
    with connect("patient/*.rs", role="physician") as client:
        response = client.get("/Observation")
        assert response.status_code == 403
        assert "patient in context" in outcome_text(response)


def test_roles_are_ceilings_at_request_time(connect: Callable[..., httpx.Client], world: World) -> None:
    """A token keeps only what its user's role allows now, whatever it was issued with."""
    with connect("user/Condition.cruds user/Patient.cruds", role="nurse") as nurse:
        condition = {"resourceType": "Condition", "subject": {"reference": f"Patient/{world.patient['a']}"}}
        assert nurse.post("/Condition", json=condition).status_code == 201
        assert nurse.get(f"/Patient/{world.patient['a']}").status_code == 200
        assert nurse.post("/Patient", json={"resourceType": "Patient"}).status_code == 403
    with connect("user/Patient.cruds user/Condition.rs", role="auditor") as auditor:  # from the roles file
        assert auditor.get(f"/Patient/{world.patient['a']}").status_code == 200
        assert auditor.put(f"/Patient/{world.patient['a']}", json={"resourceType": "Patient",
                           "id": world.patient["a"]}).status_code == 403  # fmt: skip
        assert auditor.get("/Condition").status_code == 403
    with connect("user/*.cruds", role="no-such-role") as stranger:
        assert stranger.get("/Patient").status_code == 403


def test_open_mode_says_so_loudly(server: ServerProcess, client: httpx.Client) -> None:
    assert client.get("/Patient", params={"_count": "1"}).status_code == 200
    assert "AUTHORIZATION IS OFF" in server.log_path.read_text()
