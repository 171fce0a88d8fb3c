"""Only the billing role (and administrators) post money and read receivables; other staff get 403."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from fhir_server.auth.roles import DEFAULT_ROLES
from tests.billing.payments.x12 import Clp, Line, x12_835
from tests.billing.world import balance, billed_patient, charge, created, desk_payment

X12 = {"Content-Type": "application/edi-x12"}


def _calls(client: httpx.Client, patient: str, account: str) -> list[httpx.Response]:
    empty_835 = x12_835([Clp("PCN-NONE", "1", "1.00", "1.00", "0", "P", [Line("99213", "1.00", "1.00")])], "1.00", "T1")
    return [
        client.get(f"/Account/{account}/$balance"),
        client.get("/Account/$aging"),
        client.post(f"/Patient/{patient}/$statement"),
        client.post("/PaymentReconciliation/$import-x12-835", content=empty_835, headers=X12),
    ]


def test_the_billing_role_may_and_other_staff_may_not(connect: Callable[..., httpx.Client]) -> None:
    with connect("user/*.cruds", role="admin") as admin:
        billed = billed_patient(admin)
    with connect(" ".join(DEFAULT_ROLES["billing"]), role="billing") as billing:
        created(billing, charge(billed, "25.00"))
        created(billing, desk_payment(billed, "5.00"))
        statuses = [r.status_code for r in _calls(billing, billed.patient, billed.account)]
        assert statuses == [200, 200, 200, 400]  # the 835 names a claim that does not exist: refused, not forbidden
    for role in ("physician", "nurse", "front-desk"):
        with connect(" ".join(DEFAULT_ROLES[role]), role=role) as staff:
            responses = _calls(staff, billed.patient, billed.account)
            assert [r.status_code for r in responses] == [403] * 4, (role, [r.text for r in responses])
            assert all(r.json()["resourceType"] == "OperationOutcome" for r in responses)
    with connect(" ".join(DEFAULT_ROLES["nurse"]), role="nurse") as nurse:
        refused = nurse.post("/PaymentReconciliation", json={"resourceType": "PaymentReconciliation"})
        assert refused.status_code == 403


def test_a_patient_reads_their_own_balance_only(connect: Callable[..., httpx.Client]) -> None:
    with connect("user/*.cruds", role="admin") as admin:
        mine, other = billed_patient(admin), billed_patient(admin)
        created(admin, charge(mine, "12.30"))
    scopes = " ".join(DEFAULT_ROLES["patient"])
    with connect(scopes, role="patient", patient=mine.patient) as patient:
        assert balance(patient, mine.account)["balance"] == "12.30 USD"
        assert patient.get(f"/Account/{other.account}/$balance").status_code == 404
        assert patient.get("/Account/$aging").status_code == 403
        assert patient.post(f"/Patient/{mine.patient}/$statement").status_code == 403
