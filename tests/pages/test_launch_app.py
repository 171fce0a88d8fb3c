"""The staff launch page: sign in without an app, find a patient, pick an encounter and an app with a
launch URL, and land on `<launch_url>?iss=...&launch=...`; the handle then works at /auth/authorize."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.conftest import ServerProcess

from .conftest import PASSWORD, REDIRECT, AuthData, create_patient, csrf_of
from .test_consent import answer, decide
from .test_encounter_picker import create_encounter

LAUNCH_URL = "https://chart.example/launch"


def sign_in_to_launch(http: httpx.Client, username: str) -> httpx.Response:
    """Open the launch page signed out, follow it to the sign-in form, sign in; the answer to the post."""
    start = http.get("/auth/launch-app")
    assert start.status_code == 303 and start.headers["location"] == "/auth/login"
    form = http.get("/auth/login")
    assert form.status_code == 200 and 'name="request" value=""' in form.text
    data = {"request": "", "username": username, "password": PASSWORD, "csrf_token": csrf_of(form)}
    return http.post("/auth/login", data=data)


def test_staff_launch_an_app_for_a_patient_and_encounter(
    browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    patient = create_patient(pages_server, "Launchable")
    visit = create_encounter(pages_server, patient, "2024-05-05T10:00:00Z", type=[{"text": "Check-up"}])
    foreign = create_encounter(pages_server, create_patient(pages_server, "Launchother"), "2024-05-06")
    app = auth_data.client(name="Chart viewer", launch_url=LAUNCH_URL)
    auth_data.client(name="No launch URL app")
    username = auth_data.user("physician")
    signed_in = sign_in_to_launch(browser, username)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/auth/launch-app"
    assert browser.get("/auth/login").headers["location"] == "/auth/launch-app", "signed in already"

    found = browser.get("/auth/launch-app", params={"name": "Launchable"})
    assert found.status_code == 200 and f'value="{patient}"' in found.text and "Ada Launchable" in found.text
    chosen = browser.get("/auth/launch-app", params={"name": "Launchable", "patient": patient})
    assert chosen.status_code == 200 and f'value="{visit}"' in chosen.text and "Check-up" in chosen.text
    assert f'value="{app}"' in chosen.text and "No launch URL app" not in chosen.text
    assert "https://chart.example" in chosen.headers["content-security-policy"]
    assert chosen.headers["x-frame-options"] == "DENY" and chosen.headers["cache-control"] == "no-store"
    csrf = csrf_of(chosen)
    form = {"client": app, "patient": patient, "encounter": visit}
    assert browser.post("/auth/launch-app", data=form).status_code == 403, "no CSRF token"
    mismatch = browser.post("/auth/launch-app", data={**form, "encounter": foreign, "csrf_token": csrf})
    assert mismatch.status_code == 400 and f"not an encounter of Patient/{patient}" in mismatch.text
    unknown_app = browser.post("/auth/launch-app", data={**form, "client": "no-such-app", "csrf_token": csrf})
    assert unknown_app.status_code == 400 and "No client no-such-app" in unknown_app.text
    launched = browser.post("/auth/launch-app", data={**form, "csrf_token": csrf})
    assert launched.status_code == 303, launched.text
    location = urlsplit(launched.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == LAUNCH_URL
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["iss"] == f"{pages_server.base}/fhir" and query["launch"]

    # The app takes the handle to the authorize endpoint; the signed-in user consents.
    verifier = secrets.token_urlsafe(48)
    params = {"response_type": "code", "client_id": app, "redirect_uri": REDIRECT, "scope": "launch patient/*.rs",
              "state": "s-1", "aud": query["iss"], "code_challenge": create_s256_code_challenge(verifier),
              "code_challenge_method": "S256", "launch": query["launch"]}  # fmt: skip
    parked = browser.get("/auth/authorize", params=params)
    request_id = re.sub(r".*request=", "", parked.headers["location"])
    consent = browser.get("/auth/consent", params={"request": request_id}).text
    assert "Visit: May 5, 2024, 10:00\u202fAM · Check-up (Outpatient visit)" in consent
    code = auth_data.redeem(answer(decide(browser, request_id, "approve", ["launch", "patient/*.rs"]))["code"])
    assert code is not None and (code.patient, code.encounter, code.need_patient_banner) == (patient, visit, True)


def test_a_launch_without_an_encounter_and_an_unknown_patient(
    browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    patient = create_patient(pages_server, "Noencounter")
    app = auth_data.client(launch_url=LAUNCH_URL + "?tenant=1")
    sign_in_to_launch(browser, auth_data.user("nurse"))
    page = browser.get("/auth/launch-app", params={"patient": patient})
    assert page.status_code == 200 and page.text.count('name="encounter"') == 1, "only 'No encounter'"
    launched = browser.post("/auth/launch-app", data={"client": app, "patient": patient, "encounter": "",
                                                      "csrf_token": csrf_of(page)})  # fmt: skip
    query = parse_qs(urlsplit(launched.headers["location"]).query)
    assert launched.status_code == 303 and query["tenant"] == ["1"] and query["launch"]
    unknown = browser.get("/auth/launch-app", params={"patient": "no-such-patient"})
    assert unknown.status_code == 400 and "Choose a patient from the list" in unknown.text
    assert "Launch</button>" not in unknown.text
    refused = browser.post("/auth/launch-app", data={"client": app, "patient": "no-such-patient",
                                                     "csrf_token": csrf_of(page)})  # fmt: skip
    assert refused.status_code == 400 and "does not exist or is not visible to you" in refused.text


def test_patients_may_not_launch_apps_here(
    browser: httpx.Client, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    own = create_patient(pages_server, "Notstaff")
    sign_in_to_launch(browser, auth_data.user("patient", f"Patient/{own}"))
    refused = browser.get("/auth/launch-app")
    assert refused.status_code == 403 and "Staff only" in refused.text
    assert browser.post("/auth/launch-app", data={"patient": own}).status_code == 403
