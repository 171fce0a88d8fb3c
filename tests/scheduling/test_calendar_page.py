"""The front-desk calendar in chromium: book for a patient, see a double booking refused, check in, cancel;
in English, Spanish and German (screenshots under /tmp/pages-sched-core)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from fhir_server.storage import EmbeddedDatabase
from tests.browser import chromium, needs_chromium
from tests.scheduling.helpers import book, generate, proposals, schedule_body, tomorrow
from tests.staff_pages import StaffServer, open_staff_page

__all__ = ["chromium"]

SHOTS = Path("/tmp/pages-sched-core")
WORD = "document.getElementById('staff-words').content.querySelector('[data-word=conflict]').textContent"
"""The page's own words for a refused double booking, in the page's language (the catalogs of this branch
may not have the translations yet: they are merged with the lead's catalog update)."""


@pytest.fixture(scope="module")
def staff_server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffServer]:
    server = StaffServer.start(database, tmp_path_factory.mktemp("calendar"))
    yield server
    server.stop()


def _doctor(admin: httpx.Client) -> str:
    family = f"Weber{uuid.uuid4().hex[:4]}"
    doctor = admin.post(
        "/Practitioner", json={"resourceType": "Practitioner", "name": [{"family": family, "given": ["Anna"]}]}
    )
    actor = f"Practitioner/{doctor.json()['id']}"
    schedule = admin.post("/Schedule", json=schedule_body([actor])).json()
    generate(admin, schedule["id"])
    return actor


@needs_chromium
@pytest.mark.parametrize("language", ["en", "es", "de"])
def test_front_desk_books_sees_a_conflict_checks_in_and_cancels(
    chromium: Browser, staff_server: StaffServer, language: str
) -> None:
    admin = staff_server.fhir(staff_server.user("admin"))
    actor = _doctor(admin)
    family = f"Quintanilla{uuid.uuid4().hex[:4]}"
    rosa = admin.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family, "given": ["Rosa"]}],
                                        "birthDate": "1984-03-07"}).json()  # fmt: skip
    other = admin.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Other"}]}).json()
    page = open_staff_page(
        chromium, staff_server, "/staff/calendar", staff_server.user("front-desk"), language=language
    )
    page.select_option("#who", actor)
    page.click("#show button[type=submit]")
    expect(page.locator("#board tr.free")).to_have_count(6)
    page.fill("#name", family)
    page.click("#find-patient button[type=submit]")
    page.locator("#patients li button").first.click()
    expect(page.locator("#chosen")).to_contain_text(f"Rosa {family}")

    start, end = tomorrow()  # someone else books the first free time behind the page's back
    first = proposals(admin, start=start, end=end, practitioner=actor)[0]
    assert book(admin, first, f"Patient/{other['id']}").status_code == 201
    page.locator("#board tr.free button").first.click()
    expect(page.locator("#staff-alert")).to_have_text(page.evaluate(WORD))
    expect(page.locator("#board tr.free")).to_have_count(5)

    page.locator("#board tr.free button").first.click()
    rosa_row = page.locator(f"#board tr.appointment:has-text('{family}')")
    expect(rosa_row).to_have_count(1)
    expect(page.locator("#chosen")).to_contain_text(family)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"calendar-booked-{language}.png"), full_page=True)
    rosa_row.locator("button").first.click()  # check in
    expect(rosa_row).to_have_class("appointment arrived")
    appointments = admin.get("/Appointment", params={"patient": f"Patient/{rosa['id']}"}).json()["entry"]
    assert [e["resource"]["status"] for e in appointments] == ["arrived"]
    assert admin.get("/Encounter", params={"appointment": f"Appointment/{appointments[0]['resource']['id']}"}).json()[
        "entry"
    ]

    page.locator("#board tr.free button").first.click()  # a second visit for Rosa, then cancelled
    booked_row = page.locator(f"#board tr.appointment.booked:has-text('{family}')")
    expect(booked_row).to_have_count(1)
    booked_row.locator("button.danger").click()
    expect(page.locator(f"#board tr.appointment.cancelled:has-text('{family}')")).to_have_count(1)
    expect(page.locator("#board tr.free")).to_have_count(4)
    page.screenshot(path=str(SHOTS / f"calendar-{language}.png"), full_page=True)
    page.context.close()
    admin.close()
