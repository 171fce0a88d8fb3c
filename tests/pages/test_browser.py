"""A real browser (headless Debian chromium through Playwright) signs in, picks a patient and consents.

The app's redirect_uri is a tiny local HTTP server that records the query strings it receives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser

from tests.browser import needs_chromium
from tests.conftest import ServerProcess

from .conftest import PASSWORD, AuthData, create_patient

OBS = "http://terminology.hl7.org/CodeSystem/observation-category"
LAB = f"patient/Observation.rs?category={OBS}|laboratory"

pytestmark = needs_chromium


class RedirectTarget:
    """The app's callback: answers every GET with a small page and keeps the query strings of /callback."""

    def __init__(self) -> None:
        received: list[str] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/callback":  # not the browser's /favicon.ico
                    received.append(url.query)
                body = b"<!doctype html><title>app</title><p>received</p>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def target() -> Iterator[RedirectTarget]:
    server = RedirectTarget()
    yield server
    server.close()


def test_staff_signs_in_picks_a_patient_and_consents_in_a_real_browser(
    chromium: Browser, target: RedirectTarget, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    patient_id = create_patient(pages_server, "Browserpatient", "Grace")
    username = auth_data.user("nurse", "Practitioner/3")
    scopes = "openid fhirUser launch/patient patient/Observation.rs patient/Condition.rs"
    request_id = auth_data.park(auth_data.client(), scopes, redirect_uri=target.url)
    parked = auth_data.parked(request_id)
    assert parked is not None

    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Refused" in message.text else None)
    page.goto(f"{pages_server.base}/auth/login?request={request_id}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url("**/auth/patient?request=*")
    page.fill("#name", "Browserpatient")
    page.click("button:has-text('Search')")
    page.check(f"input[name=patient][value='{patient_id}']")
    page.click("button:has-text('Continue')")
    page.wait_for_url("**/auth/consent?request=*")
    assert "Grace Browserpatient" in page.content()
    page.uncheck("input[name=scope][value='patient/Observation.rs']")
    page.check(f"input[name=scope][value='{LAB}']")
    page.uncheck("input[name=scope][value='patient/Condition.rs']")
    page.click("button[name=decision][value=approve]")
    page.wait_for_url(f"{target.url}?*")
    context.close()

    assert refused == [], "no content security policy violations"
    [query] = target.received
    answer = {k: v[0] for k, v in parse_qs(query).items()}
    assert answer["state"] == parked.state
    code = auth_data.redeem(answer["code"])
    assert code is not None
    assert code.scopes == ("openid", "fhirUser", "launch/patient", LAB)
    assert code.patient == patient_id and code.subject == username
