"""Account balances kept by the ledger rules, in the transaction of each posting, exact to the digit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson

from tests.billing.world import balance, billed_patient, charge, created, desk_payment, exact
from tests.conftest import FHIR_JSON


def _put(client: httpx.Client, resource: dict[str, Any]) -> httpx.Response:
    return client.put(f"/{resource['resourceType']}/{resource['id']}", content=orjson.dumps(resource))


def test_charges_post_exactly_and_changes_reverse(client: httpx.Client) -> None:
    billed = billed_patient(client)
    first = created(client, charge(billed, "1.10"))
    created(client, charge(billed, "2.00"))
    me = f"Patient/{billed.patient}"
    assert balance(client, billed.account) == {"balance": "3.10 USD", me: "3.10 USD"}
    stored = exact(client.get(f"/ChargeItem/{first['id']}"))
    stored["priceOverride"]["value"] = orjson.Fragment(b"1.25")
    assert _put(client, stored).status_code == 200
    assert balance(client, billed.account)["balance"] == "3.25 USD"
    stored["status"] = "entered-in-error"
    assert _put(client, stored).status_code == 200
    assert balance(client, billed.account)["balance"] == "2.00 USD"
    assert client.delete(f"/ChargeItem/{first['id']}").status_code in (200, 204)
    assert balance(client, billed.account)["balance"] == "2.00 USD"
    unpriced = charge(billed, "0")
    del unpriced["priceOverride"]
    unpriced = created(client, unpriced)  # the claim checks list it as unpriced; nothing to post yet
    assert balance(client, billed.account)["balance"] == "2.00 USD"
    unpriced["priceOverride"] = {"value": orjson.Fragment(b"0.05"), "currency": "USD"}
    assert _put(client, unpriced).status_code == 200
    assert balance(client, billed.account)["balance"] == "2.05 USD"


def test_a_covered_account_owes_the_payer(client: httpx.Client) -> None:
    billed = billed_patient(client, covered=True)
    created(client, charge(billed, "150.00"))
    assert balance(client, billed.account) == {"balance": "150.00 USD", f"Organization/{billed.payer}": "150.00 USD"}


def test_a_desk_payment_posts_and_an_overpayment_is_refused(client: httpx.Client) -> None:
    billed = billed_patient(client)
    created(client, charge(billed, "80.00"))
    created(client, desk_payment(billed, "30.50"))
    assert balance(client, billed.account)["balance"] == "49.50 USD"
    refused = client.post("/PaymentReconciliation", content=orjson.dumps(desk_payment(billed, "49.51")))
    assert refused.status_code == 422, refused.text
    assert "larger than what is owed" in refused.text
    assert balance(client, billed.account)["balance"] == "49.50 USD"
    found = client.get("/PaymentReconciliation", params={"detail-request": f"Account/{billed.account}"})
    assert found.status_code != 200 or len(found.json().get("entry", [])) <= 1


def test_concurrent_charges_lose_no_update(client: httpx.Client, base_url: str) -> None:
    billed = billed_patient(client)

    def post(_n: int) -> int:
        with httpx.Client(base_url=base_url, headers=FHIR_JSON, timeout=60) as own:
            return own.post("/ChargeItem", content=orjson.dumps(charge(billed, "0.10"))).status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(post, range(24))) == [201] * 24
    assert balance(client, billed.account)["balance"] == "2.40 USD"


def test_concurrent_payments_cannot_both_spend_the_balance(client: httpx.Client, base_url: str) -> None:
    billed = billed_patient(client)
    created(client, charge(billed, "100.00"))

    def pay(_n: int) -> int:
        with httpx.Client(base_url=base_url, headers=FHIR_JSON, timeout=60) as own:
            return own.post("/PaymentReconciliation", content=orjson.dumps(desk_payment(billed, "60.00"))).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(pay, range(4)))
    assert statuses == [201, 422, 422, 422]
    assert balance(client, billed.account)["balance"] == "40.00 USD"


def test_bad_postings_name_the_element_and_write_nothing(client: httpx.Client) -> None:
    billed = billed_patient(client)
    created(client, charge(billed, "10.00"))
    no_currency = charge(billed, "5.00")
    del no_currency["priceOverride"]["currency"]
    cases = [
        (no_currency, 400, "ChargeItem.priceOverride.currency"),
        (charge(billed, "-5.00"), 400, "ChargeItem.priceOverride.value"),
        (charge(billed, "5.00", currency="EUR"), 400, "kept in USD"),
        ({**charge(billed, "5.00"), "account": [{"reference": "Account/nope"}]}, 400, "ChargeItem.account[0]"),
        (desk_payment(billed, "0"), 400, "PaymentReconciliation.detail[0].amount"),
    ]
    for resource, status, named in cases:
        response = client.post(f"/{resource['resourceType']}", content=orjson.dumps(resource))
        assert response.status_code == status, response.text
        assert response.json()["resourceType"] == "OperationOutcome" and named in response.text
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": charge(billed, "7.00"), "request": {"method": "POST", "url": "ChargeItem"}},
            {"resource": charge(billed, "-1.00"), "request": {"method": "POST", "url": "ChargeItem"}},
        ],
    }
    assert client.post("/", content=orjson.dumps(bundle)).status_code == 400
    assert balance(client, billed.account)["balance"] == "10.00 USD"


def test_an_account_without_a_patient_takes_the_charges_subject(client: httpx.Client) -> None:
    billed = billed_patient(client)
    bare = created(client, {"resourceType": "Account", "status": "active", "name": "No subject"})
    item = {**charge(billed, "9.99"), "account": [{"reference": f"Account/{bare['id']}"}]}
    created(client, item)
    assert balance(client, bare["id"]) == {"balance": "9.99 USD", f"Patient/{billed.patient}": "9.99 USD"}
    group = created(client, {"resourceType": "Group", "type": "person", "actual": True})
    refused = client.post(
        "/ChargeItem", content=orjson.dumps({**item, "subject": {"reference": f"Group/{group['id']}"}})
    )
    assert refused.status_code == 400 and "ChargeItem.account[0]" in refused.text  # no patient owes it
