"""`MedicationRequest/[id]/$print`: a signed prescription as a PDF for the patient to take to a pharmacy:
prescriber, patient, drug, sig (the dosage as text), quantity, days' supply, refills, substitution, and a QR
code carrying the prescription's URL (its id), printed under it too.

Only a signed prescription prints (409 otherwise). The PDF uses the core Helvetica font: characters outside
Latin-1 print as "?".
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from ...engine.read import read_resource
from ...errors import VersionConflict
from ...i18n import _
from ...rest.context import base_url, store_of
from ...rest.operations.declaration import INSTANCE, Operation, OperationCall, Parameter
from .dosage import sig_text
from .life_cycle import is_signed
from .lookup import read_reference
from .parameters import operation_parameters


def _name(resource: Mapping[str, Any] | None) -> str:
    for name in (resource or {}).get("name") or []:
        if name.get("text"):
            return str(name["text"])
        parts = [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]
        if any(parts):
            return " ".join(p for p in parts if p)
    return "?"


def _medication(request: Mapping[str, Any]) -> str:
    concept = request.get("medicationCodeableConcept") or {}
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    return str(concept.get("text") or (request.get("medicationReference") or {}).get("display") or "?")


def _quantity(value: Mapping[str, Any] | None) -> str:
    if not value:
        return "-"
    return f"{value.get('value', '')} {value.get('unit') or value.get('code') or ''}".strip()


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def prescription_pdf(request: Mapping[str, Any], patient: Mapping[str, Any] | None,
                     prescriber: Mapping[str, Any] | None, url: str) -> bytes:  # fmt: skip
    """The PDF of a signed prescription whose URL is `url`."""
    import segno  # imported on first use: fpdf2 (with Pillow and fontTools) adds seconds to every server start
    from fpdf import FPDF

    dispense = request.get("dispenseRequest") or {}
    substitution = request.get("substitution") or {}
    rows = [
        (_("Prescriber"), _name(prescriber)),
        (_("Patient"), f"{_name(patient)}  {(patient or {}).get('birthDate', '')}".strip()),
        (_("Medication"), _medication(request)),
        (_("Instructions"), "; ".join(sig_text(d) for d in request.get("dosageInstruction") or []) or "-"),
        (_("Quantity"), _quantity(dispense.get("quantity"))),
        (_("Days' supply"), _quantity(dispense.get("expectedSupplyDuration"))),
        (_("Refills"), str(dispense.get("numberOfRepeatsAllowed", 0))),
        (_("Substitution allowed"), _("no") if substitution.get("allowedBoolean") is False else _("yes")),
        (_("Signed"), str(request.get("authoredOn", ""))),
    ]
    pdf = FPDF(format="A5")
    pdf.set_auto_page_break(auto=True, margin=10)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(_("Prescription")), new_x="LMARGIN", new_y="NEXT")
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(38, 7, _latin1(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 7, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    qr = io.BytesIO()
    segno.make(url, error="m").save(qr, kind="png", scale=4, border=2)
    qr.seek(0)
    pdf.image(qr, w=40)
    pdf.set_font("Helvetica", "", 7)
    pdf.cell(0, 5, _latin1(url), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def print_prescription(call: OperationCall) -> Response:
    await operation_parameters(call, "$print", set())
    store = store_of(call.request)
    request = (await read_resource(store, call.policy, "MedicationRequest", str(call.resource_id))).resource()
    if not is_signed(request):
        raise VersionConflict(_("Only a signed prescription can be printed."), expression="MedicationRequest.status")
    patient = await read_reference(store, str((request.get("subject") or {}).get("reference", "")), call.policy)
    prescriber = await read_reference(store, str((request.get("requester") or {}).get("reference", "")), call.policy)
    url = f"{base_url(call.request)}/MedicationRequest/{request['id']}"
    body = prescription_pdf(request, patient, prescriber, url)
    disposition = f'inline; filename="prescription-{request["id"]}.pdf"'
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": disposition})


PRINT = Operation(
    code="print",
    id="MedicationRequest-print",
    title="Print a prescription",
    description="A signed prescription as a PDF (prescriber, patient, drug, sig, quantity, refills, a QR code "
    "with its URL).",
    levels=(INSTANCE,),
    resource_types=("MedicationRequest",),
    affects_state=False,
    parameters=(Parameter("return", "out", 1, "1", "Binary", "The PDF (application/pdf)."),),
    handler=print_prescription,
)
