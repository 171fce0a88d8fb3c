"""Login → picker → consent → the app's redirect_uri, over real HTTP; the code is redeemed through the store."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import FHIR_JSON, ServerProcess

from .conftest import REDIRECT, AuthData, create_patient, csrf_of, sign_in

OBS = "http://terminology.hl7.org/CodeSystem/observation-category"
LAB = f"patient/Observation.rs?category={OBS}|laboratory"
VITALS = f"patient/Observation.rs?category={OBS}|vital-signs"


def answer(response: httpx.Response) -> dict[str, str]:
    """The query the app receives at its redirect_uri."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"{REDIRECT}?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def consent(http: httpx.Client, request_id: str) -> httpx.Response:
    page = http.get("/auth/consent", params={"request": request_id})
    assert page.status_code == 200, page.text
    return page


def decide(http: httpx.Client, request_id: str, decision: str, scopes: list[str]) -> httpx.Response:
    page = consent(http, request_id)
    data = {"request": request_id, "csrf_token": csrf_of(page), "decision": decision, "scope": scopes}
    return http.post("/auth/consent", data=data)


def test_staff_picks_a_patient_then_narrows_types_and_categories(
    browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    patient_id = create_patient(pages_server, "Quetzalcoatl")
    create_patient(pages_server, "Quetzalcoatlus", "Bob")
    username = auth_data.user("nurse", "Practitioner/7")
    asked = "openid fhirUser launch/patient patient/Observation.rs patient/Condition.rs patient/Account.cruds"
    request_id = auth_data.park(auth_data.client(), f"{asked} patient/MedicationRequest.rs", nonce="n-1")
    parked = auth_data.parked(request_id)
    assert parked is not None

    assert sign_in(browser, request_id, username).headers["location"] == f"/auth/consent?request={request_id}"
    to_picker = browser.get("/auth/consent", params={"request": request_id})
    assert to_picker.headers["location"] == f"/auth/patient?request={request_id}", "no consent before a pick"
    empty = browser.get("/auth/patient", params={"request": request_id})
    assert empty.status_code == 200 and 'name="patient"' not in empty.text
    found = browser.get("/auth/patient", params={"request": request_id, "name": "Quetzalcoatl"})
    assert found.status_code == 200
    assert f'value="{patient_id}"' in found.text and "Ada Quetzalcoatl" in found.text and "Bob" in found.text
    none = browser.get("/auth/patient", params={"request": request_id, "name": "Zzyzx-nobody"})
    assert "No patient matches" in none.text
    missing = browser.post(
        "/auth/patient", data={"request": request_id, "patient": "no-such", "csrf_token": csrf_of(found)}
    )
    assert missing.status_code == 400
    assert browser.post("/auth/patient", data={"request": request_id, "patient": patient_id}).status_code == 403
    picked = browser.post(
        "/auth/patient", data={"request": request_id, "patient": patient_id, "csrf_token": csrf_of(found)}
    )
    assert picked.headers["location"] == f"/auth/consent?request={request_id}"

    page = consent(browser, request_id)
    assert "Growth Chart" in page.text and "Ada Quetzalcoatl" in page.text
    assert 'value="patient/Account.cruds"' not in page.text, "a nurse may only read billing records"
    assert 'value="patient/Account.rs"' in page.text
    assert f'value="{LAB}"' in page.text
    assert "form-action 'self' http://127.0.0.1:9" in page.headers["content-security-policy"]
    kept = ["openid", "fhirUser", "launch/patient", "patient/Condition.rs", LAB, VITALS, "user/*.cruds"]
    arrived = answer(decide(browser, request_id, "approve", kept))
    assert arrived["state"] == parked.state and set(arrived) == {"code", "state"}

    code = auth_data.redeem(arrived["code"])
    assert code is not None
    assert code.scopes == ("openid", "fhirUser", "launch/patient", LAB, VITALS, "patient/Condition.rs")
    assert (code.subject, code.role, code.fhir_user, code.patient) == (username, "nurse", "Practitioner/7", patient_id)
    assert code.client_id == parked.client_id and code.redirect_uri == REDIRECT and code.code_challenge == "challenge"
    assert code.nonce == "n-1" and code.need_patient_banner is False and code.encounter is None
    assert (code.expires_at - code.issued_at).total_seconds() == 60
    assert auth_data.parked(request_id) is None
    assert browser.get("/auth/consent", params={"request": request_id}).status_code == 400


def test_client_ceiling_and_the_role_both_cut_the_offer(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("front-desk")
    client_id = auth_data.client(("user/Patient.rs", "user/Appointment.rs", "openid"))
    request_id = auth_data.park(client_id, "openid fhirUser user/Patient.cruds user/Appointment.rs user/Observation.rs")
    sign_in(browser, request_id, username)
    offered = ["openid", "user/Patient.rs", "user/Appointment.rs"]
    code = auth_data.redeem(answer(decide(browser, request_id, "approve", [*offered, "user/Observation.rs"]))["code"])
    assert code is not None and code.scopes == tuple(offered) and code.patient is None


def test_patient_user_gets_their_own_record_without_a_picker(
    browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    own = create_patient(pages_server, "Ownrecord")
    username = auth_data.user("patient", f"Patient/{own}")
    request_id = auth_data.park(auth_data.client(), "openid launch/patient patient/*.rs patient/Patient.cruds")
    assert sign_in(browser, request_id, username).headers["location"] == f"/auth/consent?request={request_id}"
    assert browser.get("/auth/patient", params={"request": request_id}).headers["location"].startswith("/auth/consent")
    page = consent(browser, request_id)
    assert "Ownrecord" in page.text and 'value="patient/*.rs"' in page.text
    assert 'value="patient/Patient.cruds"' not in page.text
    code = auth_data.redeem(answer(decide(browser, request_id, "approve", ["launch/patient", "patient/*.rs"]))["code"])
    assert code is not None and code.patient == own and code.scopes == ("launch/patient", "patient/*.rs")


def test_related_person_gets_the_patient_they_relate_to(
    browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    child = create_patient(pages_server, "Child")
    body = {"resourceType": "RelatedPerson", "patient": {"reference": f"Patient/{child}"}}
    related = httpx.post(f"{pages_server.base}/fhir/RelatedPerson", json=body, headers=FHIR_JSON).json()["id"]
    username = auth_data.user("patient", f"RelatedPerson/{related}")
    request_id = auth_data.park(auth_data.client(), "launch/patient patient/Observation.rs")
    sign_in(browser, request_id, username)
    code = auth_data.redeem(answer(decide(browser, request_id, "approve", ["patient/Observation.rs"]))["code"])
    assert code is not None and code.patient == child

    for unlinked in ("RelatedPerson/does-not-exist", "Practitioner/1", None):
        orphan = auth_data.user("patient", unlinked)
        with httpx.Client(base_url=str(browser.base_url), follow_redirects=False) as other:
            request_id = auth_data.park(auth_data.client(), "launch/patient patient/Observation.rs")
            sign_in(other, request_id, orphan)
            no_picker = other.get("/auth/patient", params={"request": request_id})
            assert no_picker.headers["location"].startswith("/auth/consent"), "a patient role never picks"
            refused = other.get("/auth/consent", params={"request": request_id})
            assert refused.status_code == 403 and "not linked to a patient record" in refused.text


def test_ehr_launch_keeps_its_patient_and_asks_for_the_banner(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("physician", "Practitioner/1")
    request_id = auth_data.park(
        auth_data.client(), "launch patient/Observation.rs", launch_patient="p-42", launch_encounter="e-7"
    )
    assert sign_in(browser, request_id, username).headers["location"] == f"/auth/consent?request={request_id}"
    code = auth_data.redeem(
        answer(decide(browser, request_id, "approve", ["launch", "patient/Observation.rs"]))["code"]
    )
    assert code is not None
    assert (code.patient, code.encounter, code.need_patient_banner) == ("p-42", "e-7", True)


def test_a_patient_user_cannot_join_an_ehr_launch_for_someone_else(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("patient", "Patient/mine")
    request_id = auth_data.park(auth_data.client(), "launch patient/Observation.rs", launch_patient="theirs")
    sign_in(browser, request_id, username)
    refused = browser.get("/auth/consent", params={"request": request_id})
    assert refused.status_code == 403 and "another patient" in refused.text


def test_deny_and_approving_nothing_answer_access_denied(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("physician")
    client_id = auth_data.client()
    denied = auth_data.park(client_id, "openid user/Observation.rs")
    sign_in(browser, denied, username)
    arrived = answer(decide(browser, denied, "deny", ["openid", "user/Observation.rs"]))
    assert arrived["error"] == "access_denied" and arrived["state"] and "code" not in arrived
    assert auth_data.parked(denied) is None
    nothing = auth_data.park(client_id, "user/Observation.rs")
    browser.get("/auth/login", params={"request": nothing})
    assert answer(decide(browser, nothing, "approve", []))["error"] == "access_denied"


def test_bad_consent_posts_are_refused(browser: httpx.Client, auth_data: AuthData) -> None:
    username = auth_data.user("physician")
    request_id = auth_data.park(auth_data.client(), "user/Observation.rs")
    sign_in(browser, request_id, username)
    page = consent(browser, request_id)
    base = {"request": request_id, "scope": "user/Observation.rs"}
    assert browser.post("/auth/consent", data={**base, "decision": "approve"}).status_code == 403
    wrong = {**base, "decision": "approve", "csrf_token": "forged"}
    assert browser.post("/auth/consent", data=wrong).status_code == 403
    odd = browser.post("/auth/consent", data={**base, "decision": "maybe", "csrf_token": csrf_of(page)})
    assert odd.status_code == 400
    assert auth_data.parked(request_id) is not None, "a refused post leaves the request waiting"
    with httpx.Client(base_url=str(browser.base_url), follow_redirects=False) as stranger:
        unsigned = stranger.get("/auth/consent", params={"request": request_id})
        assert unsigned.headers["location"] == f"/auth/login?request={request_id}"


def test_the_answer_keeps_the_redirect_uri_query_and_unknown_apps_are_refused(
    browser: httpx.Client, auth_data: AuthData
) -> None:
    username = auth_data.user("physician")
    request_id = auth_data.park(auth_data.client(), "openid", redirect_uri=f"{REDIRECT}?tenant=a")
    sign_in(browser, request_id, username)
    location = decide(browser, request_id, "approve", ["openid"]).headers["location"]
    assert location.startswith(f"{REDIRECT}?tenant=a&code=")
    gone = auth_data.park("no-such-app", "openid")
    browser.get("/auth/login", params={"request": gone})
    assert browser.get("/auth/consent", params={"request": gone}).status_code == 400
