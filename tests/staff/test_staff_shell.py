"""The staff pages' shell in chromium: sign-in through the server's own OAuth, the role gate,
the FHIR API with the user's token, and the words and dates of the user's language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from fhir_server.storage import EmbeddedDatabase
from tests.browser import chromium, needs_chromium
from tests.staff_pages import StaffServer, open_staff_page

__all__ = ["chromium"]

SHOTS = Path("/tmp/pages-staff")


@pytest.fixture(scope="module")
def staff_server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffServer]:
    server = StaffServer.start(database, tmp_path_factory.mktemp("staff"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def patient_name(staff_server: StaffServer) -> str:
    """A patient the front desk can find (created through the API with an administrator's token)."""
    family = "Quintanilla"
    body = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": family, "given": ["Rosa"]}],
        "birthDate": "1984-03-07",
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "MRN-4711"}],
    }
    with staff_server.fhir(staff_server.user("admin")) as fhir:
        assert fhir.post("/Patient", json=body).status_code == 201
    return family


def test_me_needs_a_live_token(staff_server: StaffServer) -> None:
    assert httpx.get(f"{staff_server.base}/staff/me").status_code == 401
    bad = httpx.get(f"{staff_server.base}/staff/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_pages_are_served_with_a_strict_policy_and_unknown_ones_are_404(staff_server: StaffServer) -> None:
    shown = httpx.get(f"{staff_server.base}/staff/patients")
    assert shown.status_code == 200
    assert "script-src 'self'" in shown.headers["content-security-policy"]
    assert httpx.get(f"{staff_server.base}/staff/nothing-here").status_code == 404
    assert httpx.get(f"{staff_server.base}/staff/nothing-here.js").status_code == 404
    assert httpx.get(f"{staff_server.base}/staff/static/other.js").status_code == 404


@needs_chromium
@pytest.mark.parametrize("language", ["en", "es", "de"])
def test_front_desk_signs_in_and_finds_a_patient(
    chromium: Browser, staff_server: StaffServer, patient_name: str, language: str
) -> None:
    username = staff_server.user("front-desk")
    page = open_staff_page(chromium, staff_server, "/staff/patients", username, language=language)
    assert page.url.endswith("/staff/patients"), "back on the page after signing in, no consent step"
    expect(page.locator("#staff-user")).to_contain_text(username)
    page.fill("#name", patient_name)
    page.click("#find button[type=submit]")
    row = page.locator("#results tbody tr").first
    expect(row).to_contain_text("Rosa Quintanilla")
    expect(row).to_contain_text("MRN-4711")
    birth = {"en": "Mar 7, 1984", "es": "7 mar 1984", "de": "07.03.1984"}[language]
    expect(row).to_contain_text(birth)
    heading = {"en": "Find a patient", "es": "Buscar un paciente", "de": "Patient suchen"}[language]
    expect(page.locator("h1")).to_have_text(heading)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"patients-{language}.png"), full_page=True)
    page.context.close()


@needs_chromium
def test_a_role_the_page_is_not_for_is_told_so(chromium: Browser, staff_server: StaffServer) -> None:
    with staff_server.fhir(staff_server.user("admin")) as fhir:
        created = fhir.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Own"}]}).json()
    username = staff_server.user("patient", f"Patient/{created['id']}")
    page = open_staff_page(chromium, staff_server, "/staff/patients", username, ready=False)
    expect(page.locator("#staff-refused")).to_be_visible()
    expect(page.locator("#find")).to_be_hidden()
    page.context.close()


@needs_chromium
def test_the_home_page_lists_the_pages_of_the_role_and_signing_out_ends_the_token(
    chromium: Browser, staff_server: StaffServer
) -> None:
    page = open_staff_page(chromium, staff_server, "/staff/", staff_server.user("nurse"))
    expect(page.locator(".tiles li:visible a")).to_have_text(["Find a patient"])
    token = page.evaluate("JSON.parse(sessionStorage.getItem('staff.token')).access")
    page.click("#staff-sign-out")
    page.wait_for_url("**/auth/logout")
    answer = httpx.get(f"{staff_server.base}/staff/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401, "the page's token is revoked on sign-out"
    page.context.close()
