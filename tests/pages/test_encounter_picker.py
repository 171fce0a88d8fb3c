"""The encounter picker of a standalone launch asking for `launch/encounter`: after the patient, before
consent; the patient's encounters newest first; none to pick means no encounter in context."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import FHIR_JSON, ServerProcess

from .conftest import AuthData, create_patient, csrf_of, sign_in
from .test_consent import answer, decide

ASKED = "openid launch/patient launch/encounter patient/*.rs"


def create_encounter(server: ServerProcess, patient: str, start: str, **extra: Any) -> str:
    body = {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB", "display": "ambulatory"},
            "subject": {"reference": f"Patient/{patient}"}, "period": {"start": start}, **extra}  # fmt: skip
    response = httpx.post(f"{server.base}/fhir/Encounter", json=body, headers=FHIR_JSON)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def pick_patient(http: httpx.Client, request_id: str, patient: str, family: str) -> httpx.Response:
    found = http.get("/auth/patient", params={"request": request_id, "name": family})
    data = {"request": request_id, "patient": patient, "csrf_token": csrf_of(found)}
    return http.post("/auth/patient", data=data)


def test_staff_pick_a_patient_then_one_of_their_encounters(
    browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    patient = create_patient(pages_server, "Encounterella")
    older = create_encounter(pages_server, patient, "2023-01-05T09:00:00Z")
    newer = create_encounter(pages_server, patient, "2024-06-01T14:30:00Z", status="in-progress",
                             type=[{"text": "Follow-up visit"}])  # fmt: skip
    other_patient = create_patient(pages_server, "Elsewhere")
    foreign = create_encounter(pages_server, other_patient, "2024-07-01T08:00:00Z")
    request_id = auth_data.park(auth_data.client(), ASKED)
    sign_in(browser, request_id, auth_data.user("physician"))
    assert browser.get("/auth/encounter", params={"request": request_id}).headers["location"] == (
        f"/auth/patient?request={request_id}"
    ), "the patient comes first"
    picked = pick_patient(browser, request_id, patient, "Encounterella")
    to_encounter = browser.get(picked.headers["location"])
    assert to_encounter.headers["location"] == f"/auth/encounter?request={request_id}", "no consent before a pick"

    page = browser.get("/auth/encounter", params={"request": request_id})
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert page.text.index(f'value="{newer}"') < page.text.index(f'value="{older}"'), "newest first"
    assert "Jun 1, 2024, 2:30\u202fPM" in page.text and "In progress" in page.text
    assert "Follow-up visit (Outpatient visit)" in page.text and f'value="{foreign}"' not in page.text
    csrf = csrf_of(page)
    assert browser.post("/auth/encounter", data={"request": request_id, "encounter": newer}).status_code == 403
    wrong = browser.post("/auth/encounter", data={"request": request_id, "encounter": foreign, "csrf_token": csrf})
    assert wrong.status_code == 400 and "Choose an encounter from the list" in wrong.text
    chosen = browser.post("/auth/encounter", data={"request": request_id, "encounter": newer, "csrf_token": csrf})
    assert chosen.headers["location"] == f"/auth/consent?request={request_id}"

    consent = browser.get("/auth/consent", params={"request": request_id})
    assert consent.status_code == 200
    assert "Visit: Jun 1, 2024, 2:30\u202fPM · Follow-up visit (Outpatient visit)" in consent.text
    code = auth_data.redeem(answer(decide(browser, request_id, "approve", ASKED.split()))["code"])
    assert code is not None and (code.patient, code.encounter) == (patient, newer)


def test_picking_another_patient_forgets_the_encounter(
    browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    first = create_patient(pages_server, "Firstpick")
    visit = create_encounter(pages_server, first, "2024-02-02")
    second = create_patient(pages_server, "Secondpick")
    request_id = auth_data.park(auth_data.client(), ASKED)
    sign_in(browser, request_id, auth_data.user("nurse"))
    pick_patient(browser, request_id, first, "Firstpick")
    page = browser.get("/auth/encounter", params={"request": request_id})
    browser.post("/auth/encounter", data={"request": request_id, "encounter": visit, "csrf_token": csrf_of(page)})
    pick_patient(browser, request_id, second, "Secondpick")
    # Secondpick has no encounter: the picker passes straight on, with none in context.
    assert (
        browser.get("/auth/consent", params={"request": request_id}).headers["location"].startswith("/auth/encounter")
    )
    assert (
        browser.get("/auth/encounter", params={"request": request_id}).headers["location"].startswith("/auth/consent")
    )
    code = auth_data.redeem(answer(decide(browser, request_id, "approve", ASKED.split()))["code"])
    assert code is not None and (code.patient, code.encounter) == (second, None)


def test_no_encounter_is_a_choice_too(browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess) -> None:
    patient = create_patient(pages_server, "Novisitchosen")
    create_encounter(pages_server, patient, "2024-04-04")
    request_id = auth_data.park(auth_data.client(), ASKED)
    sign_in(browser, request_id, auth_data.user("physician"))
    pick_patient(browser, request_id, patient, "Novisitchosen")
    page = browser.get("/auth/encounter", params={"request": request_id})
    assert 'id="encounter-none" name="encounter" value=""' in page.text
    none = browser.post("/auth/encounter", data={"request": request_id, "encounter": "", "csrf_token": csrf_of(page)})
    assert none.headers["location"] == f"/auth/consent?request={request_id}"
    code = auth_data.redeem(answer(decide(browser, request_id, "approve", ASKED.split()))["code"])
    assert code is not None and (code.patient, code.encounter) == (patient, None)


def test_a_patient_user_picks_among_their_own_encounters_only(
    browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    own = create_patient(pages_server, "Ownvisits")
    mine = create_encounter(pages_server, own, "2024-03-03")
    theirs = create_encounter(pages_server, create_patient(pages_server, "Notmine"), "2024-03-04")
    request_id = auth_data.park(auth_data.client(), ASKED)
    sign_in(browser, request_id, auth_data.user("patient", f"Patient/{own}"))
    assert (
        browser.get("/auth/consent", params={"request": request_id}).headers["location"].startswith("/auth/encounter")
    )
    page = browser.get("/auth/encounter", params={"request": request_id})
    assert f'value="{mine}"' in page.text and f'value="{theirs}"' not in page.text
    refused = browser.post("/auth/encounter", data={"request": request_id, "encounter": theirs,
                                                    "csrf_token": csrf_of(page)})  # fmt: skip
    assert refused.status_code == 400


def test_no_picker_without_launch_encounter_nor_on_an_ehr_launch(
    browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    patient = create_patient(pages_server, "Nopicker")
    create_encounter(pages_server, patient, "2024-04-04")
    username = auth_data.user("physician")
    plain = auth_data.park(auth_data.client(), "launch/patient patient/*.rs")
    sign_in(browser, plain, username)
    assert browser.get("/auth/encounter", params={"request": plain}).headers["location"].startswith("/auth/consent")
    ehr = auth_data.park(auth_data.client(), "launch launch/encounter patient/*.rs", launch_patient=patient,
                         launch_encounter="from-the-ehr", ehr_launch=True)  # fmt: skip
    assert browser.get("/auth/consent", params={"request": ehr}).status_code == 200
    code = auth_data.redeem(answer(decide(browser, ehr, "approve", ["launch", "patient/*.rs"]))["code"])
    assert code is not None and (code.patient, code.encounter) == (patient, "from-the-ehr")
