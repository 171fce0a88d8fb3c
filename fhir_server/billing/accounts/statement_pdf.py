"""A patient statement as PDF (fpdf2): words from `_()`, dates and money in the patient's language."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ...i18n import _
from ...i18n.formatting import format_date, format_money

if TYPE_CHECKING:
    from fpdf import FPDF

_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
"""A Unicode font when the system has it (€, ñ, ü); else the PDF core font, Latin-1 only."""


@dataclass(frozen=True)
class StatementLine:
    day: str
    description: str
    amount: Decimal


@dataclass(frozen=True)
class Statement:
    patient_name: str
    issued: str
    currency: str
    lines: list[StatementLine]
    due: Decimal


def _font(pdf: FPDF) -> str:
    if _FONT.exists():
        pdf.add_font("statement", fname=str(_FONT))
        return "statement"
    return "helvetica"


def _text(font: str, value: str) -> str:
    return value if font != "helvetica" else value.encode("latin-1", "replace").decode("latin-1")


def render_statement(statement: Statement, language: str) -> bytes:
    """The statement's PDF, written for a reader of `language`."""
    from fpdf import FPDF  # on first use: fpdf2 slows every start

    pdf = FPDF()
    pdf.add_page()
    font = _font(pdf)
    pdf.set_font(font, size=16)
    pdf.cell(0, 10, _text(font, _("Statement")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(font, size=11)
    issued = _("Date: {date}").format(date=format_date(statement.issued, language))
    for row in (_("Patient: {name}").format(name=statement.patient_name), issued):
        pdf.cell(0, 7, _text(font, row), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for line in statement.lines:
        pdf.cell(35, 7, _text(font, format_date(line.day, language)))
        pdf.cell(110, 7, _text(font, line.description))
        pdf.cell(0, 7, _text(font, format_money(line.amount, statement.currency, language)), align="R")
        pdf.ln(7)
    pdf.ln(4)
    pdf.set_font(font, size=13)
    due = _("Amount due: {amount}").format(amount=format_money(statement.due, statement.currency, language))
    pdf.cell(0, 9, _text(font, due), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
