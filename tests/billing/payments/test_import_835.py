"""PaymentReconciliation/$import-x12-835: a real 835 (validated by pyx12) posts to the accounts, once."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.billing.payments.x12 import Clp, Line, x12_835
from tests.billing.world import Billed, balance, billed_patient, charge, created, exact

X12 = {"Content-Type": "application/edi-x12"}
IMPORT = "/PaymentReconciliation/$import-x12-835"


def _claim(client: httpx.Client, billed: Billed) -> str:
    """A Claim whose identifier is the patient control number the 835 answers with: an institutional one, which
    the professional claim checks of claims out leave alone (the professional path, from the visit to the 835,
    is tests/e2e/test_practice_scenario.py)."""
    control = f"PCN{uuid.uuid4().hex[:10].upper()}"
    created(
        client,
        {
            "resourceType": "Claim",
            "identifier": [{"system": "urn:example:pcn", "value": control}],
            "status": "active",
            "type": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}]
            },
            "use": "claim",
            "patient": {"reference": f"Patient/{billed.patient}"},
            "created": "2026-11-03",
            "insurer": {"reference": f"Organization/{billed.payer}"},
            "provider": {"reference": f"Organization/{billed.payer}"},
            "priority": {"coding": [{"code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{billed.coverage}"}}],
        },
    )
    return control


def _count(client: httpx.Client, resource_type: str, **params: str) -> int:
    response = client.get(f"/{resource_type}", params=params)
    assert response.status_code == 200, response.text
    return len(response.json().get("entry", []))


def _setup(client: httpx.Client) -> tuple[Billed, Billed, str, str]:
    paid, denied = billed_patient(client, covered=True), billed_patient(client, covered=True)
    created(client, charge(paid, "200.00"))
    created(client, charge(denied, "80.00"))
    return paid, denied, _claim(client, paid), _claim(client, denied)


def _file(paid_claim: str, denied_claim: str, trace: str, paid: str = "120.00") -> str:
    return x12_835(
        [
            Clp(paid_claim, "1", "200.00", paid, "30.00", "PAYER1",
                [Line("99213", "200.00", paid, [("CO", "45", "50.00"), ("PR", "2", "30.00")], ["N130"])]),
            Clp(denied_claim, "4", "80.00", "0", "0", "PAYER2", [Line("99212", "80.00", "0", [("CO", "50", "80.00")])]),
        ],
        paid,
        trace,
    )  # fmt: skip


def _references(parameters: dict[str, Any], name: str) -> list[str]:
    return [p["valueReference"]["reference"] for p in parameters["parameter"] if p["name"] == name]


def test_an_835_posts_payments_adjustments_and_patient_share_once(client: httpx.Client) -> None:
    paid, denied, paid_claim, denied_claim = _setup(client)
    trace = f"T{uuid.uuid4().hex[:12]}"
    text = _file(paid_claim, denied_claim, trace)
    response = client.post(IMPORT, content=text, headers=X12)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["parameter"][0] == {"name": "alreadyImported", "valueBoolean": False}
    responses = _references(result, "claimResponse")
    assert len(responses) == 2 and len(_references(result, "paymentReconciliation")) == 1
    payer, patient = f"Organization/{paid.payer}", f"Patient/{paid.patient}"
    assert balance(client, paid.account) == {"balance": "30.00 USD", payer: "0.00 USD", patient: "30.00 USD"}
    assert balance(client, denied.account)["balance"] == "0.00 USD"
    first = exact(client.get(f"/{responses[0]}"))
    assert first["request"]["reference"].startswith("Claim/") and str(first["payment"]["amount"]["value"]) == "120.00"
    reasons = [c["code"] for a in first["item"][0]["adjudication"] for c in a.get("reason", {}).get("coding", [])]
    assert reasons == ["45", "N130", "2", "N130"]
    tasks = _references(result, "task")
    assert len(tasks) == 1
    task = client.get(f"/{tasks[0]}").json()
    assert task["focus"]["reference"] == responses[1] and task["performerType"][0]["text"] == "billing"
    assert "CO-50" in task["description"]

    again = client.post(IMPORT, content=text, headers=X12)
    assert again.status_code == 200, again.text
    assert again.json()["parameter"][0]["valueBoolean"] is True
    assert sorted(_references(again.json(), "claimResponse")) == sorted(responses)
    assert balance(client, paid.account)["balance"] == "30.00 USD"
    assert _count(client, "Task", patient=f"Patient/{denied.patient}") == 1


def test_a_bad_835_is_refused_by_line_and_segment_and_writes_nothing(client: httpx.Client) -> None:
    paid, denied, paid_claim, denied_claim = _setup(client)
    good = _file(paid_claim, denied_claim, f"T{uuid.uuid4().hex[:12]}")
    broken = good.replace("CLP*" + paid_claim + "*1*200.00", "CLP*" + paid_claim + "*1*2X0.00")
    unknown = _file(paid_claim, "PCNUNKNOWN", f"T{uuid.uuid4().hex[:12]}")
    overpaid = _file(paid_claim, denied_claim, f"T{uuid.uuid4().hex[:12]}", paid="250.00")
    cases = [
        (broken, "segment CLP", "CLP03"),
        (unknown, "line 20, segment CLP", "PCNUNKNOWN"),
        (overpaid, "segment CLP", "larger than the charge"),
        ("ISA*garbage~", "", ""),
        (good.replace("ST*835", "ST*837"), "", ""),
    ]
    for text, where, what in cases:
        response = client.post(IMPORT, content=text, headers=X12)
        assert response.status_code == 400, response.text
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        diagnostics = " ".join(issue["diagnostics"] for issue in outcome["issue"])
        assert where in diagnostics and what in diagnostics, diagnostics
    assert balance(client, paid.account)["balance"] == "200.00 USD"
    assert balance(client, denied.account)["balance"] == "80.00 USD"
    assert _count(client, "ClaimResponse", patient=f"Patient/{paid.patient}") == 0
    empty = client.post(IMPORT, content="", headers=X12)
    assert empty.status_code == 400


def test_the_same_835_imported_twice_at_once_posts_once(client: httpx.Client, base_url: str) -> None:
    paid, denied, paid_claim, denied_claim = _setup(client)
    text = _file(paid_claim, denied_claim, f"T{uuid.uuid4().hex[:12]}")

    def send(_n: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=120) as own:
            return own.post(IMPORT, content=text, headers=X12)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(send, range(2)))
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    assert sorted(r.json()["parameter"][0]["valueBoolean"] for r in results) == [False, True]
    assert balance(client, paid.account)["balance"] == "30.00 USD"
    assert _count(client, "ClaimResponse", patient=f"Patient/{paid.patient}") == 1
    assert _count(client, "Task", patient=f"Patient/{denied.patient}") == 1
