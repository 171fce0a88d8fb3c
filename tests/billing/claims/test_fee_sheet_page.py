"""The fee sheet page in chromium: a billing user reviews a visit's charges (modifiers, units,
diagnosis pointers, an added code, a removed line), sees money in the page language, and
creates the claim; the problems of a claim that cannot go out are listed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from fhir_server.storage import EmbeddedDatabase
from tests.billing.claims.helpers import (
    clinic,
    condition,
    coverage,
    created,
    encounter,
    fee_entry,
    finish,
    local_code,
    patient,
    payer,
    practitioner,
)
from tests.browser import chromium, needs_chromium
from tests.staff_pages import StaffServer, open_staff_page

__all__ = ["chromium"]

SHOTS = Path("/tmp/pages-billing-claims")
PRICES = {"en": ("$88.10", "$24.70"), "es": ("88,10 US$", "24,70 US$"), "de": ("88,10 $", "24,70 $")}


@pytest.fixture(scope="module")
def staff_server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffServer]:
    server = StaffServer.start(database, tmp_path_factory.mktemp("fee-sheet"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(staff_server: StaffServer) -> Iterator[httpx.Client]:
    with staff_server.fhir(staff_server.user("admin")) as client:
        yield client


def _visit(client: httpx.Client, *, insured: bool = True) -> dict[str, Any]:
    """A finished visit; without insurance its E/M code is not in the fee schedule either."""
    em, shot = local_code(), local_code()
    insurer = payer(client)
    if insured:
        created(client, fee_entry(em, {"standard": "100.00", f"Organization/{insurer['id']}": "88.10"}))
    created(client, fee_entry(shot, {"standard": "12.35"}))
    person = patient(client)
    if insured:
        coverage(client, person["id"], insurer["id"])
    diabetes = condition(client, person["id"], "E11.9")
    pressure = condition(client, person["id"], "I10")
    visit = encounter(
        client,
        person["id"],
        em,
        serviceProvider={"reference": f"Organization/{clinic(client)['id']}"},
        participant=[{"individual": {"reference": f"Practitioner/{practitioner(client)['id']}"}}],
        diagnosis=[
            {"condition": {"reference": f"Condition/{diabetes['id']}"}, "rank": 1},
            {"condition": {"reference": f"Condition/{pressure['id']}"}, "rank": 2},
        ],
    )
    return {"visit": finish(client, visit), "em": em, "shot": shot, "patient": person}


@needs_chromium
@pytest.mark.parametrize("language", ["en", "es", "de"])
def test_billing_reviews_the_fee_sheet_and_creates_the_claim(
    chromium: Browser, staff_server: StaffServer, admin: httpx.Client, language: str
) -> None:
    data = _visit(admin)
    visit = data["visit"]
    page = open_staff_page(
        chromium,
        staff_server,
        f"/staff/fee-sheet?encounter={visit['id']}",
        staff_server.user("billing"),
        language=language,
    )
    em_row = page.locator(f"#charges tbody tr[data-code={data['em']}]")
    expect(em_row.locator(".price")).to_have_text(PRICES[language][0])
    expect(page.locator("#diagnoses li")).to_have_count(2)
    expect(page.locator("#visit-summary")).to_contain_text("Jane Doe")

    em_row.locator("input[aria-label=modifiers]").fill("25")
    em_row.locator("input[aria-label=diagnoses]").fill("I10, E11.9")
    em_row.locator("button.secondary").click()
    expect(page.locator("#notice")).to_be_visible()

    page.fill("#add-code", data["shot"])
    page.fill("#add-units", "2")
    page.click("#add button[type=submit]")
    shot_row = page.locator(f"#charges tbody tr[data-code={data['shot']}]")
    expect(shot_row.locator(".price")).to_have_text(PRICES[language][1])
    shot_row.locator("input[aria-label=diagnoses]").fill("E11.9")
    shot_row.locator("button.secondary").click()
    expect(page.locator("#notice")).to_be_visible()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"fee-sheet-{language}.png"), full_page=True)

    page.click("#make-claim")
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#claim-problems")).to_be_hidden()
    [claim] = [
        e["resource"] for e in admin.get("/Claim", params={"encounter": f"Encounter/{visit['id']}"}).json()["entry"]
    ]
    lines = {item["productOrService"]["coding"][0]["code"]: item for item in claim["item"]}
    assert lines[data["em"]]["modifier"][0]["coding"][0]["code"] == "25"
    assert lines[data["em"]]["diagnosisSequence"] == [2, 1]
    assert lines[data["shot"]]["quantity"]["value"] == 2
    raw = admin.get(f"/Claim/{claim['id']}").content.replace(b" ", b"")
    assert b'"total":{"value":112.80' in raw
    page.context.close()


@needs_chromium
def test_a_removed_line_and_the_problems_of_a_claim(
    chromium: Browser, staff_server: StaffServer, admin: httpx.Client
) -> None:
    data = _visit(admin, insured=False)
    visit = data["visit"]
    page = open_staff_page(
        chromium, staff_server, f"/staff/fee-sheet?encounter={visit['id']}", staff_server.user("physician")
    )
    page.fill("#add-code", data["shot"])
    page.click("#add button[type=submit]")
    shot_row = page.locator(f"#charges tbody tr[data-code={data['shot']}]")
    expect(shot_row).to_have_count(1)
    shot_row.locator("button.danger").click()
    expect(shot_row).to_have_count(0)
    page.click("#make-claim")
    problems = page.locator("#claim-problems li")
    expect(problems.first).to_be_visible()
    expect(page.locator("#claim-problems")).to_contain_text("The claim has no coverage.")
    expect(page.locator("#claim-problems")).to_contain_text("Line 1: The charge has no price.")
    page.screenshot(path=str(SHOTS / "fee-sheet-problems-en.png"), full_page=True)
    assert admin.get("/Claim", params={"encounter": f"Encounter/{visit['id']}"}).json().get("entry") is None
    page.context.close()


@needs_chromium
def test_without_a_visit_the_page_lists_finished_visits(
    chromium: Browser, staff_server: StaffServer, admin: httpx.Client
) -> None:
    visit = _visit(admin)["visit"]
    page = open_staff_page(chromium, staff_server, "/staff/fee-sheet", staff_server.user("billing"), language="de")
    link = page.locator(f"#visit-list a[href='?encounter={visit['id']}']")
    expect(link).to_have_text("01.06.2026")
    page.screenshot(path=str(SHOTS / "fee-sheet-visits-de.png"), full_page=True)
    link.click()
    expect(page.locator("#charges tbody tr")).to_have_count(1)
    page.context.close()
