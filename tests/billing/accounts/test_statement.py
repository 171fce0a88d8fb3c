"""Patient/$statement: an Invoice is stored and its PDF is written in the patient's language."""

from __future__ import annotations

import io

import httpx
from pypdf import PdfReader

from tests.billing.world import billed_patient, charge, created, desk_payment, exact, money_text


def _pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    return text.replace("\xa0", " ")


def _statement(client: httpx.Client, language: str, amount: str) -> tuple[str, dict]:
    billed = billed_patient(client, language=language)
    created(client, charge(billed, amount, day="2026-11-02"))
    created(client, desk_payment(billed, "0.50"))
    response = client.post(f"/Patient/{billed.patient}/$statement")
    text = _pdf_text(response)
    invoice_path = response.headers["content-location"].split("/fhir/")[1]
    return text, exact(client.get(f"/{invoice_path}"))


def test_a_german_patients_statement(client: httpx.Client) -> None:
    text, invoice = _statement(client, "de", "1234.60")
    assert "1.234,60 $" in text and "1.234,10 $" in text and "02.11.2026" in text
    assert invoice["status"] == "issued" and money_text(invoice["totalNet"]) == "1234.10 USD"


def test_a_spanish_patients_statement(client: httpx.Client) -> None:
    text, invoice = _statement(client, "es", "1234.60")
    assert "1234,10 US$" in text.replace(".", "") and "2 nov 2026" in text
    assert money_text(invoice["totalGross"]) == "1234.10 USD"


def test_no_statement_for_a_patient_owing_nothing(client: httpx.Client) -> None:
    billed = billed_patient(client, covered=True)
    created(client, charge(billed, "10.00"))
    response = client.post(f"/Patient/{billed.patient}/$statement")
    assert response.status_code == 422 and response.json()["resourceType"] == "OperationOutcome"
    assert client.post("/Patient/unknown/$statement").status_code == 404
