"""The demo SMART app in headless chromium against a real server with authorization on.

EHR launch (`fhir-server launch` and the staff launch page), standalone launch by staff (patient picker) and by a
patient (own record): each signs in, consents, and the app shows the right patient and the name of who
signed in (their fhirUser record) with the token it really got; that token cannot read another patient
(read from fhirclient's sessionStorage). Denying shows a plain, styled page in the app. Screenshots go to
/tmp/pages/.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.browser import needs_chromium
from tests.scheduling.helpers import generate, schedule_body

from .conftest import PASSWORD, Demo, Person, _system_token

pytestmark = needs_chromium

SCREENSHOTS = Path("/tmp/pages")


@pytest.fixture()
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser profile (no session cookie, empty sessionStorage) that fails on console errors."""
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location['url']})")

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], "the browser reported errors"


def sign_in(page: Page, username: str) -> None:
    page.wait_for_url("**/auth/login?request=*")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form[action='/auth/login'] button[type=submit]")


def approve(page: Page) -> None:
    page.wait_for_url("**/auth/consent?request=*")
    page.click("button[name=decision][value=approve]")


def expect_app_shows(page: Page, person: Person, user: str) -> None:
    """The app shows `person` and their observations, signed in as `user` (a name, not a reference)."""
    page.wait_for_url("**/apps/demo/index.html*")  # fhirclient may already have removed ?code=... from the URL
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert page.locator("#error").is_hidden()
    assert page.text_content("#patient-name") == person.name
    assert page.inner_text("#signed-in") == f"Signed in as {user}"
    assert page.get_attribute("#details", "data-patient") == person.id
    shown = page.locator("#observations li").all_text_contents()
    assert sorted(shown) == sorted(person.observations)


def app_token(page: Page) -> str:
    """The access token fhirclient keeps in sessionStorage (SMART_KEY names the state's key)."""
    state = page.evaluate("() => sessionStorage.getItem(JSON.parse(sessionStorage.getItem('SMART_KEY')))")
    return str(json.loads(state)["tokenResponse"]["access_token"])


def assert_confined(demo: Demo, token: str, person: Person, other: Person) -> None:
    """The app's token reads `person` and nothing of `other`."""
    with httpx.Client(base_url=demo.fhir_base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        assert http.get(f"/Patient/{person.id}").status_code == 200
        assert http.get(f"/Patient/{other.id}").status_code == 404
        search = http.get("/Observation", params={"patient": other.id})
        assert search.status_code in (403, 404) or search.json().get("entry", []) == []


def test_ehr_launch_shows_the_patient_in_context(page: Page, demo: Demo) -> None:
    url = demo.cli("launch", "--client", "demo-app", "--patient", demo.own.id, "--base-url", demo.fhir_base).strip()
    assert url.startswith(f"{demo.server.base}/apps/demo/launch.html?")
    page.goto(url)
    sign_in(page, demo.doctor)
    approve(page)
    expect_app_shows(page, demo.own, demo.doctor_name)
    assert_confined(demo, app_token(page), demo.own, demo.other)  # staff, but the app got patient/ scopes


def test_standalone_launch_by_staff_picks_a_patient(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.server.base}/apps/demo/launch.html?iss={demo.fhir_base}")
    sign_in(page, demo.doctor)
    page.wait_for_url("**/auth/patient?request=*")
    page.fill("#name", demo.other.family)
    page.click("button:has-text('Search')")
    page.check(f"input[name=patient][value='{demo.other.id}']")
    page.click("button:has-text('Continue')")
    approve(page)
    expect_app_shows(page, demo.other, demo.doctor_name)


def test_standalone_launch_by_a_patient_shows_only_their_own_record(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.server.base}/apps/demo/launch.html?iss={demo.fhir_base}")
    sign_in(page, demo.patient_user)
    approve(page)  # no patient picker
    expect_app_shows(page, demo.own, demo.own.name)
    assert_confined(demo, app_token(page), demo.own, demo.other)


def test_staff_launch_the_app_from_the_launch_page(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.server.base}/auth/launch-app")
    page.wait_for_url("**/auth/login")
    page.fill("#username", demo.doctor)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url("**/auth/launch-app")
    page.fill("#name", demo.other.family)
    page.click("button:has-text('Search')")
    page.check(f"input[name=patient][value='{demo.other.id}']")
    page.click("button:has-text('Choose')")
    page.select_option("#client", "demo-app")
    page.click("button:has-text('Launch')")
    approve(page)  # the app's authorize request finds the browser signed in already
    expect_app_shows(page, demo.other, demo.doctor_name)


def test_the_sign_in_page_names_the_demo_app_with_its_logo(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.server.base}/apps/demo/launch.html?iss={demo.fhir_base}")
    page.wait_for_url("**/auth/login?request=*")
    assert page.inner_text(".app p") == "Sign in to continue to Demo SMART app."
    assert page.evaluate("() => document.querySelector('img.logo').naturalWidth") > 0


def test_a_patient_who_denies_sees_a_plain_styled_page_in_the_app(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.server.base}/apps/demo/launch.html?iss={demo.fhir_base}")
    sign_in(page, demo.patient_user)
    page.wait_for_url("**/auth/consent?request=*")
    page.click("button[name=decision][value=deny]")
    page.wait_for_url("**/apps/demo/index.html?*error=access_denied*")
    expect(page.locator("body")).to_have_attribute("data-ready", "error")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "demo-app-denied-en.png"), full_page=True)
    assert page.text_content("#patient-name") == "Access not given"
    assert page.inner_text("#error").startswith("You did not allow this app to see the record")
    assert page.locator("#details").is_hidden()
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector('main')).backgroundColor") == "rgb(255, 255, 255)"
    )


@pytest.mark.parametrize("locale", ["en-US", "es-ES", "de-DE"])
def test_the_app_shows_the_birth_date_in_the_browsers_language(chromium: Browser, demo: Demo, locale: str) -> None:
    context = chromium.new_context(locale=locale)
    page = context.new_page()
    page.goto(f"{demo.server.base}/apps/demo/launch.html?iss={demo.fhir_base}")
    sign_in(page, demo.patient_user)
    approve(page)
    expect_app_shows(page, demo.own, demo.own.name)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"demo-app-{locale[:2]}.png"), full_page=True)
    shown = {"en-US": "May 6, 1971", "es-ES": "6 may 1971", "de-DE": "6. Mai 1971"}[locale]
    assert page.text_content("#patient-birth-date") == shown
    context.close()


def test_a_patient_books_a_visit_in_the_app(page: Page, demo: Demo) -> None:
    """Self-booking: the patient's own token finds free times, holds one and books it, for themselves."""
    with ThreadPoolExecutor(1) as worker:  # Playwright's sync API keeps an event loop running in this thread
        token = worker.submit(asyncio.run, _system_token(demo.database_uri)).result()
    headers = {"Content-Type": "application/fhir+json", "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=demo.fhir_base, headers=headers, timeout=30) as http:
        name = [{"family": "Nakamura", "given": ["Aiko"]}]
        doctor = http.post("/Practitioner", json={"resourceType": "Practitioner", "name": name}).json()
        schedule = http.post("/Schedule", json=schedule_body([f"Practitioner/{doctor['id']}"])).json()
        generate(http, schedule["id"])
    page.goto(f"{demo.server.base}/apps/demo/launch.html?iss={demo.fhir_base}")
    sign_in(page, demo.patient_user)
    approve(page)
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.click("#find-times button[type=submit]")
    first = page.locator("#times li").first
    expect(first).to_contain_text("Aiko Nakamura")
    first.locator("button").click()
    expect(page.locator("#booking-note")).to_contain_text("Held for you until")
    page.click("#confirm")
    expect(page.locator("#booking-note")).to_contain_text("Booked:")
    booked = page.get_attribute("body", "data-booked")
    with httpx.Client(base_url=demo.fhir_base, headers=headers, timeout=30) as http:
        appointment = http.get(f"/Appointment/{booked}").json()
    assert appointment["status"] == "booked"
    assert f"Patient/{demo.own.id}" in [p["actor"]["reference"] for p in appointment["participant"]]
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "demo-app-booked.png"), full_page=True)
