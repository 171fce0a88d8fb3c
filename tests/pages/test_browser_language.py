"""A real browser (headless chromium) set to Spanish gets the sign-in and consent pages in Spanish."""

from __future__ import annotations

from playwright.sync_api import Browser

from tests.browser import needs_chromium
from tests.conftest import ServerProcess

from .conftest import PASSWORD, AuthData

pytestmark = needs_chromium


def test_a_spanish_browser_signs_in_and_sees_the_consent_page_in_spanish(
    chromium: Browser, auth_data: AuthData, pages_server: ServerProcess
) -> None:
    username = auth_data.user("patient", "Patient/example")
    request_id = auth_data.park(auth_data.client(("openid", "fhirUser", "patient/*.rs")), "openid patient/Patient.rs")

    context = chromium.new_context(locale="es-ES")
    page = context.new_page()
    page.goto(f"{pages_server.base}/auth/login?request={request_id}")
    assert page.get_attribute("html", "lang") == "es"
    assert page.title() == "Iniciar sesión"
    assert page.inner_text("label[for=username]") == "Nombre de usuario"
    page.fill("#username", username)
    page.fill("#password", "not the password")
    page.click("button[type=submit]:has-text('Iniciar sesión')")
    assert page.inner_text("p.error") == "Nombre de usuario o contraseña incorrectos."
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]:has-text('Iniciar sesión')")
    page.wait_for_url("**/auth/consent?request=*")
    assert page.get_attribute("html", "lang") == "es"
    assert page.title() == "Permitir el acceso"
    assert page.is_visible("button[name=decision][value=approve]:has-text('Permitir')")
    assert page.is_visible("button[name=decision][value=deny]:has-text('Denegar')")
    assert "Ver datos personales de este paciente" in page.content()
    context.close()
