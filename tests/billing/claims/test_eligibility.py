"""Eligibility: a 270 written from a CoverageEligibilityRequest, a 271 read into CoverageEligibilityResponse."""

from __future__ import annotations

from typing import Any

import httpx

from fhir_server.billing.x12.segments import element, parse
from tests.billing.claims.helpers import clinic, coverage, created, patient, payer

ANSWER = """ISA*00*          *00*          *ZZ*ACME1          *ZZ*FHIRSERVER     *261206*1200*^*00501*{isa}*0*P*:~
GS*HB*ACME1*FHIRSERVER*20261206*1200*7*X*005010X279A1~
ST*271*0001*005010X279A1~
BHT*0022*11*{trace}*20261206*1200~
HL*1**20*1~
NM1*PR*2*ACME HEALTH*****PI*ACME1~
HL*2*1*21*1~
NM1*1P*2*GOOD CLINIC*****XX*1234567893~
HL*3*2*22*0~
TRN*2*{trace}*9FHIRSERVER~
NM1*IL*1*DOE*JANE****MI*M123~
EB*1*IND*30**GOLD PLAN~
EB*B*IND*30***27*25.00~
SE*12*0001~
GE*1*7~
IEA*1*{isa}~
"""


def _request(client: httpx.Client, *, npi: str | None = "1234567893") -> dict[str, Any]:
    person = patient(client)
    insurer = payer(client)
    plan = coverage(client, person["id"], insurer["id"])
    return created(
        client,
        {
            "resourceType": "CoverageEligibilityRequest",
            "status": "active",
            "purpose": ["benefits"],
            "patient": {"reference": f"Patient/{person['id']}"},
            "created": "2026-12-06",
            "servicedDate": "2026-12-07",
            "provider": {"reference": f"Organization/{clinic(client, npi)['id']}"},
            "insurer": {"reference": f"Organization/{insurer['id']}"},
            "insurance": [{"coverage": {"reference": f"Coverage/{plan['id']}"}}],
        },
    )


def _import(client: httpx.Client, text: str) -> httpx.Response:
    return client.post(
        "/CoverageEligibilityResponse/$import-x12-271",
        content=text.encode(),
        headers={"Content-Type": "application/edi-x12"},
    )


def test_a_270_asks_about_the_member_and_a_271_answers_it(client: httpx.Client) -> None:
    request = _request(client)
    response = client.post(f"/CoverageEligibilityRequest/{request['id']}/$x12-270")
    assert response.status_code == 200, response.text
    segments = parse(response.text)
    assert [s[0] for s in segments][:4] == ["ISA", "GS", "ST", "BHT"]
    assert element(next(s for s in segments if s[0] == "ST"), 1) == "270"
    trn = next(s for s in segments if s[0] == "TRN")
    assert (trn[1], trn[2]) == ("1", request["id"])
    assert next(s for s in segments if s[0] == "NM1" and s[1] == "IL")[9] == "M123"
    assert ("DTP", "291", "D8", "20261207") in segments
    se = next(s for s in segments if s[0] == "SE")
    assert int(se[1]) == len([s for s in segments if s[0] not in ("ISA", "GS", "GE", "IEA")])

    answer = _import(client, ANSWER.format(isa="000000042", trace=request["id"]))
    assert answer.status_code == 200, answer.text
    [entry] = answer.json()["entry"]
    result = entry["resource"]
    assert result["request"] == {"reference": f"CoverageEligibilityRequest/{request['id']}"}
    assert result["insurance"][0]["inforce"] is True
    assert result["disposition"] == "GOLD PLAN"
    raw = client.get(f"/CoverageEligibilityResponse/{result['id']}").content.replace(b" ", b"")
    assert b'"allowedMoney":{"value":25.00' in raw
    again = _import(client, ANSWER.format(isa="000000042", trace=request["id"]))
    assert again.json()["entry"][0]["resource"]["id"] == result["id"]  # the same file writes nothing new


def test_bad_eligibility_input_is_refused_and_nothing_written(client: httpx.Client) -> None:
    request = _request(client, npi=None)
    refused = client.post(f"/CoverageEligibilityRequest/{request['id']}/$x12-270")
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["expression"] == ["CoverageEligibilityRequest.provider"]
    assert _import(client, "hello").status_code == 400
    unknown = _import(client, ANSWER.format(isa="000000043", trace="no-such-request"))
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["issue"][0]["expression"] == ["segment 10"]
    bad_amount = _import(client, ANSWER.format(isa="000000044", trace=request["id"]).replace("25.00", "2X"))
    assert bad_amount.status_code == 400
    assert bad_amount.json()["issue"][0]["expression"] == ["segment 13"]
    found = client.get(
        "/CoverageEligibilityResponse", params={"request": f"CoverageEligibilityRequest/{request['id']}"}
    )
    assert found.json().get("entry") is None
