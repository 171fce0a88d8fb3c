"""The whole practice in one day, over HTTP with real tokens per role: working hours → slots → the
front desk books and checks in → the physician diagnoses and finishes the visit → the charge is priced
from the fee schedule → claim → 837P (pyx12) → the payer's 835 → balances and aging → a Spanish
statement PDF (read back with `pdftotext`) → the appointments report counts the visit."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from fhir_server.auth.roles import DEFAULT_ROLES
from fhir_server.billing.codes import ICD10CM
from fhir_server.billing.x12.segments import parse
from fhir_server.billing.x12.validate import validate
from fhir_server.scheduling.extensions import SLOT_MINUTES, TIMEZONE
from tests.billing.claims.helpers import clinic, coverage, created, exact_json, fee_entry, local_code, payer
from tests.billing.payments.x12 import Clp, Line, x12_835
from tests.billing.world import balance, exact
from tests.scheduling.helpers import VISIT_SYSTEM, hours, proposals

Connect = Callable[..., httpx.Client]
X12 = {"Content-Type": "application/edi-x12"}


def _as(connect: Connect, role: str, **grant: Any) -> httpx.Client:
    return connect(" ".join(DEFAULT_ROLES[role]), role=role, **grant)


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _parts(parameters: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: p for p in parameters["parameter"]}


def _aging_group(aging: dict[str, Any], party: str) -> dict[str, str]:
    for group in (p for p in aging["parameter"] if p["name"] == "group"):
        parts = {part["name"]: part for part in group["part"]}
        if parts["party"].get("valueReference", {}).get("reference") == party:
            return {name: str(part["valueMoney"]["value"]) for name, part in parts.items() if "valueMoney" in part}
    raise AssertionError(f"{party} not in the aging: {aging}")


def test_a_visit_from_booking_to_the_patients_statement(connect: Connect, tmp_path: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    with connect("user/*.cruds system/*.cruds", role="admin") as admin:
        doctor = created(
            admin,
            {
                "resourceType": "Practitioner",
                "name": [{"family": f"Ortega{tag}", "given": ["Lucía"]}],
                "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1245319599"}],
            },
        )
        practice = clinic(admin)
        em_code = local_code()
        created(admin, fee_entry(em_code, {"standard": "150.00", "self-pay": "90.00"}))
        insurer = payer(admin, "Acme Health")
        schedule = created(
            admin,
            {
                "resourceType": "Schedule",
                "active": True,
                "actor": [{"reference": f"Practitioner/{doctor['id']}"}],
                "serviceType": [{"coding": [{"system": VISIT_SYSTEM, "code": "checkup"}]}],
                "extension": [
                    {"url": TIMEZONE, "valueCode": "UTC"},
                    hours(),
                    {"url": SLOT_MINUTES, "valuePositiveInt": 20},
                ],
            },
        )
        generated = _parts(_ok(admin.post(f"/Schedule/{schedule['id']}/$generate-slots")))
        assert generated["written"]["valueInteger"] > 0

    day = (datetime.now(UTC) + timedelta(days=1)).date()
    with _as(connect, "front-desk") as desk:
        person = created(
            desk,
            {
                "resourceType": "Patient",
                "name": [{"family": f"García{tag}", "given": ["María"]}],
                "gender": "female",
                "birthDate": "1980-01-02",
                "address": [{"line": ["2 Oak St"], "city": "Springfield", "state": "IL", "postalCode": "62702"}],
                "communication": [
                    {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}]}, "preferred": True}
                ],
            },
        )
        patient = f"Patient/{person['id']}"
        policy = coverage(desk, person["id"], insurer["id"])
        offered = proposals(
            desk,
            start=f"{day}T00:00:00Z",
            end=f"{day + timedelta(days=1)}T00:00:00Z",
            practitioner=f"Practitioner/{doctor['id']}",
        )
        assert offered[0]["start"] == f"{day}T09:00:00Z"
        booking = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "appointment-resource", "resource": offered[0]},
                {"name": "patient", "valueReference": {"reference": patient}},
            ],
        }
        appointment = _ok(desk.post("/Appointment/$book", json=booking), 201)
        assert appointment["status"] == "booked"
        arrived = _parts(_ok(desk.post(f"/Appointment/{appointment['id']}/$check-in")))
        assert arrived["appointment"]["resource"]["status"] == "arrived"
        encounter_id = arrived["encounter"]["resource"]["id"]

    with _as(connect, "physician") as physician:
        encounter = _ok(physician.get(f"/Encounter/{encounter_id}"))
        assert encounter["subject"] == {"reference": patient}
        assert encounter["participant"] == [{"individual": {"reference": f"Practitioner/{doctor['id']}"}}]
        diagnoses = [
            created(
                physician,
                {
                    "resourceType": "Condition",
                    "subject": {"reference": patient},
                    "encounter": {"reference": f"Encounter/{encounter_id}"},
                    "code": {"coding": [{"system": ICD10CM, "code": code}]},
                },
            )
            for code in ("E11.9", "I10")
        ]
        finished = {
            **{k: v for k, v in encounter.items() if k != "meta"},
            "status": "finished",
            "type": [{"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": em_code}]}],
            "serviceProvider": {"reference": f"Organization/{practice['id']}"},
            "diagnosis": [
                {"condition": {"reference": f"Condition/{c['id']}"}, "rank": rank}
                for rank, c in enumerate(diagnoses, start=1)
            ],
            "period": {**encounter["period"], "end": datetime.now(UTC).isoformat(timespec="seconds")},
        }
        _ok(physician.put(f"/Encounter/{encounter_id}", content=exact_json(finished)))

    with _as(connect, "billing") as billing:
        charges = _ok(billing.get("/ChargeItem", params={"context": f"Encounter/{encounter_id}"}))["entry"]
        [charge] = [entry["resource"] for entry in charges]
        assert charge["code"]["coding"][0]["code"] == em_code
        assert charge["priceOverride"] == {"value": 150.00, "currency": "USD"}  # the payer's level: standard
        account = charge["account"][0]["reference"]
        claim = _ok(billing.post(f"/Encounter/{encounter_id}/$claim", content=b""), 201)
        assert claim["insurance"][0]["coverage"] == {"reference": f"Coverage/{policy['id']}"}
        assert claim["insurer"] == {"reference": f"Organization/{insurer['id']}"}  # what the 835 is matched by
        opened = _ok(billing.get(f"/{account}"))  # opened by the charge: owed by the payer, not the patient
        assert opened["coverage"] == [{"coverage": {"reference": f"Coverage/{policy['id']}"}, "priority": 1}]
        claimed = {"name": "claim", "valueReference": {"reference": f"Claim/{claim['id']}"}}
        parameters = {"resourceType": "Parameters", "parameter": [claimed]}
        exported = billing.post("/Claim/$export-x12", content=exact_json(parameters))
        assert exported.status_code == 200, exported.text
        assert validate(exported.text) == []
        clm = next(s for s in parse(exported.text) if s[0] == "CLM")
        control, total = clm[1], clm[2]
        assert (control, total) == (claim["id"], "150.00")

        paid, contractual = Decimal("95.00"), Decimal("25.00")
        share = Decimal(total) - paid - contractual
        remittance = x12_835(
            [
                Clp(control, "1", total, str(paid), str(share), f"PAYER{tag}",
                    [Line(em_code, total, str(paid), [("CO", "45", str(contractual)), ("PR", "2", str(share))])]),
            ],
            str(paid),
            f"T{tag}{uuid.uuid4().hex[:6]}",
        )  # fmt: skip
        imported = billing.post("/PaymentReconciliation/$import-x12-835", content=remittance, headers=X12)
        assert imported.status_code == 200, imported.text
        payer_ref = f"Organization/{insurer['id']}"
        owed = balance(billing, account.removeprefix("Account/"))
        assert owed == {"balance": "30.00 USD", payer_ref: "0.00 USD", patient: "30.00 USD"}
        as_of = (day + timedelta(days=1)).isoformat()
        by_patient = exact(billing.get("/Account/$aging", params={"by": "patient", "asOf": as_of}))
        buckets = {"0-30": "30.00", "31-60": "0", "61-90": "0", "90+": "0", "total": "30.00"}
        assert _aging_group(by_patient, patient) == buckets
        by_payer = exact(billing.get("/Account/$aging", params={"by": "payer", "asOf": as_of}))
        assert all(p["name"] != "group" or _payer_total(p, payer_ref) in (None, "0.00") for p in by_payer["parameter"])

        statement = billing.post(f"/Patient/{person['id']}/$statement")
        assert statement.status_code == 200, statement.text
        assert statement.headers["content-type"].startswith("application/pdf")
        invoice_ref = statement.headers["content-location"]
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(statement.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert f"María García{tag}" in text
    assert "Importe a pagar: 30,00 US$" in " ".join(text.split())  # "amount due", Spanish money
    assert "Paciente:" in text

    with _as(connect, "patient", patient=person["id"]) as own:
        assert balance(own, account.removeprefix("Account/"))["balance"] == "30.00 USD"
        invoice = _ok(own.get(f"/{invoice_ref.split('/fhir/')[-1].split('/_history')[0]}"))
        assert invoice["subject"] == {"reference": patient}

    with _as(connect, "physician") as physician:
        period = {"report": "appointments-per-provider", "start": day.isoformat(), "end": day.isoformat()}
        rows = _ok(physician.get("/$report", params=period))
        mine = [row for row in rows if f"Ortega{tag}" in row["provider"]]
        assert [(row["day"], row["booked"], row["no_shows"]) for row in mine] == [(day.isoformat(), 1, 0)]


def _payer_total(group: dict[str, Any], party: str) -> str | None:
    parts = {part["name"]: part for part in group["part"]}
    if parts["party"].get("valueReference", {}).get("reference") != party:
        return None
    return str(parts["total"]["valueMoney"]["value"])
