"""Resources that cannot be stored or must not be: a clear 4xx OperationOutcome, and nothing written."""

from __future__ import annotations

import uuid

import httpx
import pytest

from fhir_server.engine.stored_size import MAX_INDEX_ENTRIES, MAX_STORED_BYTES
from tests.conftest import new_patient

NS = 'xmlns="http://www.w3.org/1999/xhtml"'


def _many_names(family: str, count: int) -> list[dict[str, object]]:
    return [{"family": family, "given": [f"Given{i}", "Second"]} for i in range(count)]


def _total(client: httpx.Client, **params: str) -> int:
    response = client.get("/Patient", params={**params, "_total": "accurate", "_count": "0"})
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def test_a_resource_with_too_many_index_entries_is_413_and_nothing_is_written(client: httpx.Client) -> None:
    family = "Oversize" + uuid.uuid4().hex[:8]
    response = client.post("/Patient", json={"resourceType": "Patient", "name": _many_names(family, 40_000)})
    assert response.status_code == 413, response.text[:500]
    [issue] = response.json()["issue"]
    assert issue["code"] == "too-costly" and issue["expression"] == ["Patient"]
    assert str(MAX_INDEX_ENTRIES) in issue["diagnostics"]
    assert _total(client, family=family) == 0


def test_a_resource_whose_index_would_not_fit_a_document_is_413(client: httpx.Client) -> None:
    family = "Oversize" + uuid.uuid4().hex[:8]
    names = [{"family": f"{family}{i}{'a' * 2000}"} for i in range(2_000)]  # 4 MB, 6,000 entries, 28 MB stored
    response = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}, *names]})
    assert response.status_code == 413, response.text[:500]
    [issue] = response.json()["issue"]
    assert issue["code"] == "too-costly" and str(MAX_STORED_BYTES) in issue["diagnostics"]
    assert _total(client, family=family) == 0


def test_an_update_too_big_to_store_leaves_the_current_version(client: httpx.Client) -> None:
    family = "Oversize" + uuid.uuid4().hex[:8]
    created = client.post("/Patient", json=new_patient(family)).json()
    grown = {**created, "name": _many_names(family, 40_000)}
    response = client.put(f"/Patient/{created['id']}", json=grown)
    assert response.status_code == 413
    current = client.get(f"/Patient/{created['id']}").json()
    assert current["meta"]["versionId"] == "1" and len(current["name"]) == 1


def test_a_big_resource_under_the_limit_is_stored(client: httpx.Client) -> None:
    family = "Largish" + uuid.uuid4().hex[:8]
    response = client.post("/Patient", json={"resourceType": "Patient", "name": _many_names(family, 2_000)})
    assert response.status_code == 201
    assert _total(client, family=family) == 1


def test_a_body_over_the_stored_limit_is_refused_before_indexing(client: httpx.Client) -> None:
    data = "QUJD" * (MAX_STORED_BYTES // 4 + 1)  # valid base64, over the limit on its own
    response = client.post("/Binary", json={"resourceType": "Binary", "contentType": "text/plain", "data": data})
    assert response.status_code == 413
    assert response.json()["issue"][0]["expression"] == ["Binary"]


def test_a_transaction_with_a_resource_too_big_writes_nothing(client: httpx.Client) -> None:
    family = "Oversize" + uuid.uuid4().hex[:8]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": new_patient(family), "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {"resourceType": "Patient", "name": _many_names(family, 40_000)},
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    response = client.post("", json=bundle)
    assert response.status_code == 413, response.text[:500]
    assert response.json()["resourceType"] == "OperationOutcome"
    assert _total(client, family=family) == 0


@pytest.mark.parametrize(
    ("fields", "expression"),
    [
        ({"text": {"status": "generated", "div": f"<div {NS}><script>alert(1)</script></div>"}}, "Patient.text.div"),
        (
            {"text": {"status": "generated", "div": f'<div {NS}><img src="x" onerror="alert(1)"/></div>'}},
            "Patient.text.div",
        ),
        (
            {"text": {"status": "generated", "div": f'<div {NS}><a href="javascript:alert(1)">x</a></div>'}},
            "Patient.text.div",
        ),
        ({"text": {"status": "generated", "div": "<div>no namespace</div>"}}, "Patient.text.div"),
        ({"text": {"status": "generated", "div": f"<div {NS}><p>not closed</div>"}}, "Patient.text.div"),
        ({"name": [{"family": "Chal\x00mers"}]}, "Patient.name[0].family"),
        ({"name": [{"given": ["Jane", "Ja\x1bne"]}]}, "Patient.name[0].given[1]"),
        ({"contained": [{"resourceType": "Organization", "name": "x"}]}, "Patient.contained[0].id"),
        (
            {
                "contained": [{"resourceType": "Organization", "id": "o", "meta": {"versionId": "3"}}],
                "managingOrganization": {"reference": "#o"},
            },
            "Patient.contained[0].meta.versionId",
        ),
    ],
    ids=["script", "onerror", "javascript-url", "no-namespace", "not-well-formed", "nul", "escape", "no-id", "dom-4"],
)
def test_harmful_or_invalid_content_is_refused_where_it_sits(
    client: httpx.Client, fields: dict[str, object], expression: str
) -> None:
    family = "Refused" + uuid.uuid4().hex[:8]
    body = {"resourceType": "Patient", **fields}
    body.setdefault("name", [{"family": family}])
    response = client.post("/Patient", json=body)
    assert response.status_code == 400, response.text
    issues = response.json()["issue"]
    assert [i["expression"] for i in issues] == [[expression]], issues
    assert _total(client, family=family) == 0
