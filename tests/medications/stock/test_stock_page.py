"""The stock page in chromium: on hand, low stock, expiring soon and history in the user's language;
receiving a delivery, adjusting and transferring through the page; the CSV export; the role gate."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from fhir_server.storage import EmbeddedDatabase
from tests.browser import chromium, needs_chromium
from tests.medications.stock.stock import created, dispense_body, lot, operation, product, receive
from tests.staff_pages import StaffServer, open_staff_page

__all__ = ["chromium"]

SHOTS = Path("/tmp/pages-meds-stock")


@dataclass
class Dispensary:
    server: StaffServer
    room: str
    fridge: str
    drug: str
    batch: str


@pytest.fixture(scope="module")
def dispensary(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dispensary]:
    server = StaffServer.start(database, tmp_path_factory.mktemp("stock-page"))
    with server.fhir(server.user("pharmacy")) as fhir:
        refused = fhir.post("/Location", json={"resourceType": "Location", "name": "Pharmacy room"})
        assert refused.status_code == 403  # the pharmacy role reads locations; an administrator makes them
    with server.fhir(server.user("admin")) as fhir:
        room, fridge = (
            f"Location/{created(fhir.post('/Location', json={'resourceType': 'Location', 'name': name}))['id']}"
            for name in ("Pharmacy room", "Vaccine fridge")
        )
        drug = product(fhir, "308136", "Amlodipine 2.5 MG Oral Tablet")
        batch = lot(fhir, drug, 20, "AML-2026")
        assert receive(fhir, batch, room, 12).status_code == 201
        assert operation(fhir, f"/{drug}/$reorder-point", location=room, point=10).status_code == 200
        assert fhir.post("/MedicationDispense", json=dispense_body(batch, room, 3)).status_code == 201
    yield Dispensary(server, room, fridge, drug, batch)
    server.stop()


@needs_chromium
@pytest.mark.parametrize("language", ["en", "es", "de"])
def test_pharmacy_sees_the_stock_in_its_language(chromium: Browser, dispensary: Dispensary, language: str) -> None:
    server = dispensary.server
    page = open_staff_page(chromium, server, "/staff/stock", server.user("pharmacy"), language=language)
    heading = {"en": "Stock", "es": "Existencias", "de": "Bestand"}[language]
    expect(page.locator("h1")).to_have_text(heading)
    row = page.locator("#stock tbody tr").first
    expect(row).to_contain_text("Amlodipine 2.5 MG Oral Tablet")
    expect(row).to_contain_text("AML-2026")
    expect(row).to_contain_text("Pharmacy room")
    expect(page.locator("#low tbody tr").first).to_contain_text("Pharmacy room")
    expect(page.locator("#expiring tbody tr").first).to_contain_text("AML-2026")
    dispensed = {"en": "Dispensed", "es": "Dispensado", "de": "Abgegeben"}[language]
    expect(page.locator("#history tbody")).to_contain_text(dispensed)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"stock-{language}.png"), full_page=True)
    page.context.close()


@needs_chromium
def test_receive_adjust_transfer_and_export(chromium: Browser, dispensary: Dispensary) -> None:
    server = dispensary.server
    page = open_staff_page(chromium, server, "/staff/stock", server.user("pharmacy"))
    page.select_option("#receive-product", dispensary.drug)
    page.fill("#receive-lot", "AML-NEW")
    page.fill("#receive-expiry", "2029-05-31")
    page.select_option("#receive-location", dispensary.room)
    page.fill("#receive-quantity", "25")
    page.click("#receive button[type=submit]")
    expect(page.locator("#notice")).to_have_text("Delivery received.")
    expect(page.locator("#stock tbody")).to_contain_text("AML-NEW")
    expect(page.locator("#low tbody tr")).to_have_count(0)  # 9 + 25 is above the reorder point again
    page.select_option("#move-stock", f"{dispensary.batch} {dispensary.room}")
    page.fill("#move-quantity", "-2")
    page.select_option("#move-reason", "damage")
    page.click("#move button[type=submit]")
    expect(page.locator("#notice")).to_have_text("Saved.")
    expect(page.locator("#history tbody tr").first).to_contain_text("Adjusted")
    page.select_option("#move-stock", f"{dispensary.batch} {dispensary.room}")
    page.select_option("#move-action", "transfer")
    page.select_option("#move-to", dispensary.fridge)
    page.fill("#move-quantity", "50")
    page.click("#move button[type=submit]")
    expect(page.locator("#staff-alert")).to_contain_text("on hand")  # the server's refusal: only 7 left
    page.fill("#move-quantity", "4")
    page.click("#move button[type=submit]")
    expect(page.locator("#notice")).to_have_text("Saved.")
    expect(page.locator("#stock tbody")).to_contain_text("Vaccine fridge")
    with page.expect_download() as download:
        page.click("#export")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("Product,Lot,Expires,Location,On hand,Status")
    assert '"AML-2026","2027' in text or '"AML-2026"' in text
    assert '"Vaccine fridge","4"' in text
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "stock-after-moves-en.png"), full_page=True)
    page.context.close()


@needs_chromium
def test_front_desk_is_not_shown_the_stock_page(chromium: Browser, dispensary: Dispensary) -> None:
    server = dispensary.server
    page = open_staff_page(chromium, server, "/staff/stock", server.user("front-desk"), ready=False)
    expect(page.locator("#staff-refused")).to_be_visible()
    page.context.close()
