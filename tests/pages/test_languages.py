"""The sign-in pages in the person's language: Accept-Language, or the app's OpenID Connect ui_locales."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.conftest import ServerProcess

from .conftest import REDIRECT, AuthData


def _authorize(browser: httpx.Client, pages_server: ServerProcess, client_id: str, **extra: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid fhirUser",
        "state": secrets.token_urlsafe(8),
        "aud": f"{pages_server.base}/fhir",
        "code_challenge": create_s256_code_challenge(secrets.token_urlsafe(48)),
        "code_challenge_method": "S256",
    }
    return browser.get("/auth/authorize", params={**params, **extra})


def test_the_login_page_is_german_for_a_german_browser(browser: httpx.Client, auth_data: AuthData) -> None:
    request_id = auth_data.park(auth_data.client(), "openid")
    german = {"Accept-Language": "de-AT, en;q=0.5"}
    response = browser.get("/auth/login", params={"request": request_id}, headers=german)
    assert response.status_code == 200
    assert '<html lang="de">' in response.text
    assert "<title>Anmelden</title>" in response.text
    assert ">Benutzername</label>" in response.text and ">Passwort</label>" in response.text
    assert response.headers["content-language"] == "de"
    assert "accept-language" in response.headers["vary"].lower()


def test_a_language_the_server_lacks_gets_english_and_says_so(browser: httpx.Client, auth_data: AuthData) -> None:
    request_id = auth_data.park(auth_data.client(), "openid")
    response = browser.get("/auth/login", params={"request": request_id}, headers={"Accept-Language": "fr-FR, fr"})
    assert response.status_code == 200
    assert '<html lang="en">' in response.text and "<title>Sign in</title>" in response.text
    assert response.headers["content-language"] == "en"


def test_error_pages_are_translated_too(browser: httpx.Client) -> None:
    response = browser.get("/auth/login", params={"request": "nope"}, headers={"Accept-Language": "es"})
    assert response.status_code == 400
    assert '<html lang="es">' in response.text
    assert "Esta solicitud de inicio de sesión es desconocida o ha caducado" in response.text
    assert response.headers["content-language"] == "es"


def test_ui_locales_of_the_authorize_request_chooses_the_pages_language(
    browser: httpx.Client, pages_server: ServerProcess, auth_data: AuthData
) -> None:
    client_id = auth_data.client(("openid", "fhirUser"))
    parked = _authorize(browser, pages_server, client_id, ui_locales="fr-CA es-MX de")
    assert parked.status_code == 303, parked.text
    location = urlsplit(parked.headers["location"])
    request_id = parse_qs(location.query)["request"][0]
    assert auth_data.parked(request_id).ui_language == "es"  # type: ignore[union-attr]
    page = browser.get(f"{location.path}?{location.query}", headers={"Accept-Language": "de"})
    assert page.status_code == 200
    assert '<html lang="es">' in page.text and "<title>Iniciar sesión</title>" in page.text
    assert page.headers["content-language"] == "es"

    english = _authorize(browser, pages_server, client_id, ui_locales="fr")
    request_id = parse_qs(urlsplit(english.headers["location"]).query)["request"][0]
    assert auth_data.parked(request_id).ui_language is None  # type: ignore[union-attr]
    page = browser.get("/auth/login", params={"request": request_id}, headers={"Accept-Language": "de"})
    assert '<html lang="de">' in page.text, "a ui_locales the server cannot serve leaves Accept-Language in charge"


def test_the_refused_authorization_page_states_its_language(
    browser: httpx.Client, pages_server: ServerProcess, auth_data: AuthData
) -> None:
    unknown = _authorize(browser, pages_server, "no-such-app", ui_locales="de")
    assert unknown.status_code == 400
    assert '<html lang="de">' in unknown.text
    assert "Autorisierungsanfrage abgelehnt" in unknown.text and "unbekannte client_id" in unknown.text
    assert unknown.headers["content-language"] == "de"
    english = _authorize(browser, pages_server, "no-such-app")
    assert '<html lang="en">' in english.text
    by_header = browser.get("/auth/authorize", params={"client_id": "nope"}, headers={"Accept-Language": "es"})
    assert '<html lang="es">' in by_header.text and "Solicitud de autorización rechazada" in by_header.text


def test_discovery_names_the_languages_of_the_pages(browser: httpx.Client) -> None:
    configuration = browser.get("/.well-known/openid-configuration").json()
    assert configuration["ui_locales_supported"][0] == "en"
    assert {"de", "es"} <= set(configuration["ui_locales_supported"])
