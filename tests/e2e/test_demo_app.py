"""The demo SMART app in headless chromium against a real server with authorization on.

EHR launch (`fhir-server launch` and the staff launch page), standalone launch by staff (patient picker) and by a
patient (own record): each signs in, consents, and the app shows the right patient with the
token it really got; that token cannot read another patient (read from fhirclient's sessionStorage).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.browser import needs_chromium

from .conftest import PASSWORD, Demo, Person

pytestmark = needs_chromium


@pytest.fixture()
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh browser profile (no session cookie, empty sessionStorage) that fails on console errors."""
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):  # the server has none
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
    page.click("button[type=submit]:has-text('Sign in')")


def approve(page: Page) -> None:
    page.wait_for_url("**/auth/consent?request=*")
    page.click("button[name=decision][value=approve]")


def expect_app_shows(page: Page, person: Person) -> None:
    page.wait_for_url("**/apps/demo/index.html?*")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    assert page.locator("#error").is_hidden()
    assert page.text_content("#patient-name") == person.name
    assert page.text_content("#patient-id") == person.id
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
    expect_app_shows(page, demo.own)
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
    expect_app_shows(page, demo.other)


def test_standalone_launch_by_a_patient_shows_only_their_own_record(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.server.base}/apps/demo/launch.html?iss={demo.fhir_base}")
    sign_in(page, demo.patient_user)
    approve(page)  # no patient picker
    expect_app_shows(page, demo.own)
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
    expect_app_shows(page, demo.other)
