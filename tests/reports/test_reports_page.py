"""The reports staff page in chromium: the reports of the user's role, a period, the table, the chart
(bars and lines with a real size), and the CSV download, in English, Spanish and German."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fhir_server.storage import EmbeddedDatabase
from tests.browser import chromium, needs_chromium
from tests.staff_pages import StaffServer, open_staff_page

__all__ = ["chromium"]

SHOTS = Path("/tmp/pages-reports")


@pytest.fixture(scope="module")
def staff_server(database: EmbeddedDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffServer]:
    folder = tmp_path_factory.mktemp("reports_page")
    server = StaffServer.start(database, folder, env={"FHIR_DATA_DIR": str(folder / "data")})
    with server.fhir(server.user("admin")) as fhir:
        practitioner = {"resourceType": "Practitioner", "name": [{"family": "Okafor", "given": ["Ada"]}]}
        doctor = fhir.post("/Practitioner", json=practitioner).json()["id"]
        for day, status in [(3, "fulfilled"), (3, "noshow"), (4, "fulfilled"), (5, "booked"), (5, "fulfilled")]:
            appointment = {
                "resourceType": "Appointment", "status": status,
                "start": f"2026-11-0{day}T09:00:00Z", "end": f"2026-11-0{day}T09:30:00Z",
                "participant": [{"actor": {"reference": f"Practitioner/{doctor}"}, "status": "accepted"}],
            }  # fmt: skip
            assert fhir.post("/Appointment", json=appointment).status_code == 201
        for month, count in [("08", 2), ("09", 4), ("10", 3)]:
            for _ in range(count):
                encounter = {
                    "resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                    "type": [{"text": "Check-up"}], "period": {"start": f"2026-{month}-10T10:00:00Z"},
                }  # fmt: skip
                assert fhir.post("/Encounter", json=encounter).status_code == 201
    yield server
    server.stop()


def _show(page: Page, report: str, start: str, end: str) -> None:
    page.select_option("#report", report)
    page.fill("#p-start", start)
    page.fill("#p-end", end)
    page.click("#pick button[type=submit]")


def _heights(page: Page, selector: str) -> list[float]:
    return [
        float(h) for h in page.locator(selector).evaluate_all("(nodes) => nodes.map((n) => n.getAttribute('height'))")
    ]


@needs_chromium
@pytest.mark.parametrize("language", ["en", "es", "de"])
def test_a_physician_sees_a_table_and_a_bar_chart(chromium: Browser, staff_server: StaffServer, language: str) -> None:
    page = open_staff_page(chromium, staff_server, "/staff/reports", staff_server.user("physician"), language=language)
    _show(page, "appointments-per-provider", "2026-11-01", "2026-11-30")
    rows = page.locator("#rows tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Ada Okafor")
    day = {"en": "Nov 3, 2026", "es": "3 nov 2026", "de": "03.11.2026"}[language]
    expect(rows.first).to_contain_text(day)
    title = {"en": "Appointments per provider per day", "es": "Citas por profesional y día",
             "de": "Termine pro Behandler und Tag"}[language]  # fmt: skip
    expect(page.locator("#report option:checked")).to_have_text(title)
    expect(page.locator("#rows thead")).to_contain_text("%")
    bars = _heights(page, "#chart svg rect.bar")
    assert len(bars) == 6 and all(h > 0 for h in bars[:3]), bars  # booked on 3 days, and the no-shows
    assert bars[0] == 2 * bars[1], "two booked on Nov 3, one on Nov 4: twice the height"
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"appointments-{language}.png"), full_page=True)
    page.context.close()


@needs_chromium
def test_a_line_chart_and_the_csv_download(chromium: Browser, staff_server: StaffServer) -> None:
    page = open_staff_page(chromium, staff_server, "/staff/reports", staff_server.user("nurse"))
    _show(page, "encounters-by-month", "2026-01-01", "2026-12-31")
    expect(page.locator("#rows tbody tr")).to_have_count(3)
    expect(page.locator("#chart svg polyline.series")).to_have_count(1)
    points = page.locator("#chart svg circle.point").evaluate_all(
        "(nodes) => nodes.map((n) => Number(n.getAttribute('cy')))"
    )
    assert len(points) == 3 and points[1] < points[2] < points[0], points  # 4 in September is the highest (smallest y)
    page.screenshot(path=str(SHOTS / "encounters-en.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#csv")
    assert download.value.suggested_filename == "encounters-by-month.csv"
    text = Path(download.value.path()).read_text()
    assert text.splitlines() == [
        "month,type,encounters",
        "2026-08,Check-up,2",
        "2026-09,Check-up,4",
        "2026-10,Check-up,3",
    ]
    page.context.close()


@needs_chromium
def test_the_front_desk_sees_only_its_reports(chromium: Browser, staff_server: StaffServer) -> None:
    page = open_staff_page(chromium, staff_server, "/staff/reports", staff_server.user("front-desk"), language="de")
    options = page.locator("#report option").all_text_contents()
    assert options == ["Termine pro Behandler und Tag"], options
    page.context.close()
