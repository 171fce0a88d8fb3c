"""Account/$aging: open receivables by age, by patient and by payer, payments settling the oldest first."""

from __future__ import annotations

import httpx
import orjson

from tests.billing.world import billed_patient, charge, created, desk_payment, exact, money_text


def _groups(client: httpx.Client, **params: str) -> dict[str, dict[str, str]]:
    response = client.get("/Account/$aging", params=params)
    assert response.status_code == 200, response.text
    out = {}
    for parameter in exact(response)["parameter"]:
        if parameter["name"] == "group":
            parts = {part["name"]: part for part in parameter["part"]}
            party = parts.pop("party")
            name = party.get("valueReference", {}).get("reference") or party["valueString"]
            out[name] = {key: money_text(part["valueMoney"]) for key, part in parts.items()}
    return out


def test_aging_by_patient_settles_the_oldest_first(client: httpx.Client) -> None:
    billed = billed_patient(client)
    for amount, day in (("40.00", "2026-08-01"), ("30.10", "2026-11-02"), ("20.00", "2026-12-01")):
        created(client, charge(billed, amount, day=day))
    created(client, desk_payment(billed, "50.00"))
    mine = _groups(client, by="patient", asOf="2026-12-06")[f"Patient/{billed.patient}"]
    assert mine == {
        "0-30": "20.00 USD", "31-60": "20.10 USD", "61-90": "0 USD", "90+": "0 USD", "total": "40.10 USD",
    }  # fmt: skip


def test_aging_by_payer(client: httpx.Client) -> None:
    billed = billed_patient(client, covered=True)
    created(client, charge(billed, "150.00", day="2026-10-01"))
    payer = _groups(client, asOf="2026-12-06")[f"Organization/{billed.payer}"]
    assert payer["61-90"] == "150.00 USD" and payer["total"] == "150.00 USD"


def test_bad_aging_requests_name_the_parameter(client: httpx.Client) -> None:
    for params, named in (({"by": "colour"}, "by"), ({"asOf": "yesterday"}, "asOf")):
        response = client.get("/Account/$aging", params=params)
        assert response.status_code == 400 and orjson.loads(response.content)["issue"][0]["expression"] == [named]
