"""Headless Debian chromium for the browser tests (Playwright cannot download browsers here).

Without /usr/bin/chromium the browser tests are skipped on a developer machine; CI sets
FHIR_TEST_BROWSER=required (see .ci/run), so there a missing browser fails them instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("FHIR_TEST_BROWSER") != "required",
    reason="needs Debian's chromium (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One headless chromium per test module (the tests that use it import this fixture)."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    )
