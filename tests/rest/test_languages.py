"""OperationOutcomes in the caller's language (Accept-Language), with Content-Language and Vary."""

from __future__ import annotations

import httpx
import pytest

from fhir_server.rest.middleware import _language_headers


def _diagnostics(response: httpx.Response) -> str:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return str(body["issue"][0]["diagnostics"])


@pytest.mark.parametrize(
    ("accept_language", "language", "text"),
    [
        ("es", "es", "No se encontró Patient/no-such-patient."),
        ("de-DE,de;q=0.9,en;q=0.8", "de", "Patient/no-such-patient wurde nicht gefunden."),
        ("es-MX", "es", "No se encontró Patient/no-such-patient."),
        ("fr-FR, fr;q=0.9", "en", "Patient/no-such-patient was not found."),
        ("de;q=0.3, es;q=0.7", "es", "No se encontró Patient/no-such-patient."),
        ("es;q=0, *", "en", "Patient/no-such-patient was not found."),
        (None, "en", "Patient/no-such-patient was not found."),
    ],
)
def test_a_missing_resource_is_explained_in_the_callers_language(
    client: httpx.Client, accept_language: str | None, language: str, text: str
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = client.get("/Patient/no-such-patient", headers=headers)
    assert response.status_code == 404
    assert response.json()["issue"][0]["code"] == "not-found"
    assert _diagnostics(response) == text
    assert response.headers["content-language"] == language
    assert "accept-language" in response.headers["vary"].lower()


def test_validation_problems_are_translated_with_their_location(client: httpx.Client) -> None:
    body = {"resourceType": "Patient", "active": "yes", "shoeSize": 42}
    response = client.post("/Patient", json=body, headers={"Accept-Language": "de"})
    assert response.status_code == 400
    issues = {issue["expression"][0]: issue["diagnostics"] for issue in response.json()["issue"]}
    assert issues == {
        "Patient.active": "Der Wert muss ein JSON-Boolean sein (true oder false)",
        "Patient.shoeSize": "Unbekanntes Element 'shoeSize'",
    }
    assert response.headers["content-language"] == "de"


def test_unknown_paths_and_methods_are_answered_in_the_callers_language(client: httpx.Client) -> None:
    response = client.get("/Patient/x/y/z/w", headers={"Accept-Language": "es"})
    assert response.status_code == 404
    assert _diagnostics(response).startswith("No hay nada en ")
    assert response.headers["content-language"] == "es"


def test_an_answer_without_texts_names_no_language(client: httpx.Client, patient: dict[str, object]) -> None:
    response = client.get(f"/Patient/{patient['id']}", headers={"Accept-Language": "de"})
    assert response.status_code == 200
    assert "content-language" not in response.headers
    assert "accept-language" not in response.headers.get("vary", "").lower()


def test_vary_keeps_what_the_response_already_varies_on(base_url: str) -> None:
    """FHIR answers say `Vary: Accept` (format) and `Origin` (CORS); the language is added, not substituted."""
    headers = {"Accept-Language": "es", "Origin": "https://app.example"}
    response = httpx.get(f"{base_url}/Patient/no-such-patient", headers=headers)
    assert response.status_code == 404
    assert len(response.headers.get_list("vary")) == 1
    assert [v.strip().lower() for v in response.headers["vary"].split(",")] == ["accept", "origin", "accept-language"]


def test_language_headers_merge_into_what_the_handler_sent() -> None:
    assert _language_headers([(b"vary", b"Origin")], "de") == [
        (b"vary", b"Origin, Accept-Language"),
        (b"content-language", b"de"),
    ]
    assert _language_headers([(b"Vary", b"*"), (b"Content-Language", b"es")], "de") == [
        (b"Content-Language", b"es"),
        (b"vary", b"*"),
    ]
    assert _language_headers([(b"vary", b"accept-language")], "es") == [
        (b"vary", b"accept-language"),
        (b"content-language", b"es"),
    ]
