"""`$print`: a signed prescription as a PDF whose text and QR code carry what the pharmacy needs."""

from __future__ import annotations

import io

import segno
from pypdf import PdfReader

from .conftest import LISINOPRIL, Clinic, created, draft, new_patient, sign


def _qr_pixels(payload: str) -> list[list[bool]]:
    return [[bool(v) for v in row] for row in segno.make(payload, error="m").matrix]


def test_a_signed_prescription_prints_with_its_details_and_a_qr_code(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin, family="Printable")
    request = created(clinic.doctor.post("/MedicationRequest", json=draft(patient, LISINOPRIL)))
    assert sign(clinic.doctor, request["id"]).status_code == 200
    response = clinic.doctor.get(f"/MedicationRequest/{request['id']}/$print")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    text = reader.pages[0].extract_text()
    url = f"{str(clinic.doctor.base_url).rstrip('/')}/MedicationRequest/{request['id']}"
    for expected in ("Greg House", "Pat Printable", "1 tablet", "by mouth", "Quantity", "30 tablet", "Refills", "2",
                     url):  # fmt: skip
        assert expected in text, (expected, text)
    images = reader.pages[0].images
    assert len(images) == 1
    picture = images[0].image.convert("1")
    matrix = _qr_pixels(url)
    scale, border = 4, 2
    for row_index, row in enumerate(matrix):  # the embedded QR code is exactly the one of the URL
        for column_index, dark in enumerate(row):
            pixel = picture.getpixel(((column_index + border) * scale + 1, (row_index + border) * scale + 1))
            assert (pixel == 0) == dark, (row_index, column_index)


def test_a_draft_does_not_print(clinic: Clinic) -> None:
    patient = new_patient(clinic.admin)
    request = created(clinic.doctor.post("/MedicationRequest", json=draft(patient)))
    response = clinic.doctor.get(f"/MedicationRequest/{request['id']}/$print")
    assert response.status_code == 409
    assert response.json()["issue"][0]["expression"] == ["MedicationRequest.status"]
