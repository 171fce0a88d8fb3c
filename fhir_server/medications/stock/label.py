"""The label of a dispense, as a PDF (fpdf2): patient, drug, directions, quantity, lot, expiry, date.

The words are the caller's language (`_()`), dates in its local format. The built-in Helvetica font
covers Latin-1, so the languages of western Europe print as written; other characters print as `?`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ...i18n import _, current_language
from ...i18n.formatting import format_date, format_decimal


@dataclass(frozen=True)
class LabelText:
    """What a label says."""

    patient: str
    drug: str
    directions: str
    quantity: str
    lot: str
    expiry: date | None
    handed_over: date
    pharmacy: str
    prescription: str | None


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def label_pdf(text: LabelText) -> bytes:
    """A 100 mm x 60 mm label."""
    from fpdf import FPDF  # on first use: fpdf2 slows every start

    language = current_language()
    pdf = FPDF(orientation="L", unit="mm", format=(60, 100))
    pdf.set_compression(False)  # a label is a few hundred bytes of text; left readable for checks and search
    pdf.set_margins(4, 4, 4)
    pdf.set_auto_page_break(auto=True, margin=3)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 11)
    pdf.multi_cell(0, 5, _latin1(text.patient), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 10)
    pdf.multi_cell(0, 5, _latin1(text.drug), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    if text.directions:
        pdf.multi_cell(0, 4.5, _latin1(text.directions), new_x="LMARGIN", new_y="NEXT")
    expiry = format_date(text.expiry, language) if text.expiry else "-"
    lines = [
        _("Quantity: {quantity}").format(quantity=format_decimal(text.quantity, language)),
        _("Lot {lot}, expires {date}").format(lot=text.lot, date=expiry),
        _("Dispensed {date}").format(date=format_date(text.handed_over, language)),
        text.pharmacy,
    ]
    if text.prescription:
        lines.append(_("Prescription {reference}").format(reference=text.prescription))
    for line in lines:
        pdf.cell(0, 4.5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
