"""Who sees a patient's money over HTTP: the patient their own invoices, charges and balance (another
patient's are not found), the billing role everyone's, a clinician the charges of the visits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from fhir_server.auth.roles import DEFAULT_ROLES
from tests.billing.world import Billed, balance, billed_patient, charge, created


def _as(connect: Callable[..., httpx.Client], role: str, **grant: Any) -> httpx.Client:
    return connect(" ".join(DEFAULT_ROLES[role]), role=role, **grant)


def _invoice(client: httpx.Client, billed: Billed) -> str:
    """The Invoice `Patient/$statement` stores (named by the answer's Content-Location)."""
    response = client.post(f"/Patient/{billed.patient}/$statement")
    assert response.status_code == 200, response.text
    location = response.headers["content-location"]
    return location[location.index("Invoice/") :].split("/_history")[0]


def _ids(client: httpx.Client, path: str, **params: str) -> list[str]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [entry["resource"]["id"] for entry in response.json().get("entry", [])]


def test_patients_see_their_own_billing_staff_see_all(connect: Callable[..., httpx.Client]) -> None:
    with connect("user/*.cruds", role="admin") as admin:
        mine, other = billed_patient(admin), billed_patient(admin)
        encounter = created(
            admin, {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                    "subject": {"reference": f"Patient/{mine.patient}"}},
        )  # fmt: skip
        my_charge = created(admin, charge(mine, "40.00", context={"reference": f"Encounter/{encounter['id']}"}))
        other_charge = created(admin, charge(other, "55.00"))
    with _as(connect, "billing") as billing:
        my_invoice, other_invoice = _invoice(billing, mine), _invoice(billing, other)
        for reference in (my_invoice, other_invoice, f"ChargeItem/{other_charge['id']}"):
            assert billing.get(f"/{reference}").status_code == 200
        assert balance(billing, other.account)["balance"] == "55.00 USD"

    with _as(connect, "patient", patient=mine.patient) as patient:
        assert patient.get(f"/{my_invoice}").status_code == 200
        assert patient.get(f"/ChargeItem/{my_charge['id']}").status_code == 200
        assert balance(patient, mine.account)["balance"] == "40.00 USD"
        for refused in (f"/{other_invoice}", f"/ChargeItem/{other_charge['id']}", f"/Account/{other.account}/$balance"):
            response = patient.get(refused)
            assert response.status_code == 404, (refused, response.text)
            assert response.json()["resourceType"] == "OperationOutcome"
        assert _ids(patient, "/Invoice") == [my_invoice.removeprefix("Invoice/")]
        charges = patient.get("/ChargeItem").json()["entry"]  # theirs: this one and the finished visit's E/M
        assert my_charge["id"] in [entry["resource"]["id"] for entry in charges]
        assert {entry["resource"]["subject"]["reference"] for entry in charges} == {f"Patient/{mine.patient}"}
        assert patient.post(f"/Patient/{other.patient}/$statement").status_code == 403

    for role in ("physician", "nurse"):
        with _as(connect, role) as clinician:
            visit = _ids(clinician, "/ChargeItem", context=f"Encounter/{encounter['id']}")
            assert my_charge["id"] in visit, role
            assert clinician.get(f"/Account/{mine.account}/$balance").status_code == 403
