"""A CMS-1500 (02/12) paper claim as a PDF: the boxes a payer keys from, laid out in the form's order.

Not a pixel copy of the red-ink form (payers that scan need the official pre-printed paper): a
one-page document whose labelled boxes carry the form's numbers, so a biller can copy or mail it.
Boxes: 1a insured's id, 2 patient's name, 3 birth date and sex, 4 insured's name, 5 address,
6 relationship, 11 group number, 21 diagnoses A-L, 24A-J service lines (date, place, code and
modifiers, pointers, charges, units, rendering NPI), 25 tax id, 26 account number, 28 total,
31 rendering provider, 33 billing provider (name, address, phone, NPI).
"""

from __future__ import annotations

from .professional import Address, Person, ProfessionalClaim

LETTERS = "ABCDEFGHIJKL"
RELATIONSHIP = {"": "Self", "01": "Spouse", "19": "Child", "G8": "Other"}


def _address(address: Address | None) -> str:
    if address is None:
        return ""
    return f"{address.line}, {address.city}, {address.state} {address.postal_code}"


def _name(person: Person) -> str:
    return f"{person.family}, {person.given}"


class _Form:
    def __init__(self) -> None:
        from fpdf import FPDF  # on first use: fpdf2 slows every start

        self.pdf = FPDF(format="letter")
        self.pdf.set_auto_page_break(True, margin=12)
        self.pdf.add_page()
        self.pdf.set_font("Helvetica", size=8)

    def title(self, text: str) -> None:
        self.pdf.set_font("Helvetica", "B", 12)
        self.pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font("Helvetica", size=8)

    def box(self, label: str, value: str, width: float, last: bool = False) -> None:
        x, y = self.pdf.get_x(), self.pdf.get_y()
        self.pdf.rect(x, y, width, 10)
        self.pdf.set_font("Helvetica", size=6)
        self.pdf.text(x + 1, y + 3, label)
        self.pdf.set_font("Helvetica", size=9)
        self.pdf.text(x + 1, y + 8, value[:60])
        if last:
            self.pdf.set_xy(self.pdf.l_margin, y + 10)
        else:
            self.pdf.set_xy(x + width, y)

    def row(self, *boxes: tuple[str, str]) -> None:
        width = (self.pdf.w - self.pdf.l_margin - self.pdf.r_margin) / len(boxes)
        for index, (label, value) in enumerate(boxes):
            self.box(label, value, width, last=index == len(boxes) - 1)


def cms1500_pdf(claim: ProfessionalClaim) -> bytes:
    """The PDF bytes of `claim` on a CMS-1500 layout."""
    form = _Form()
    form.title("HEALTH INSURANCE CLAIM FORM (CMS-1500 02/12)")
    form.row(("CARRIER", claim.payer_name), ("PAYER ID", claim.payer_id))
    patient = claim.patient or claim.subscriber
    birth = patient.birth_date.strftime("%m %d %Y") if patient.birth_date else ""
    form.row(("1a. INSURED'S I.D. NUMBER", claim.member_id), ("11. INSURED'S GROUP NUMBER", claim.group_number))
    form.row(("2. PATIENT'S NAME", _name(patient)), ("3. PATIENT'S BIRTH DATE, SEX", f"{birth}  {patient.gender}"))
    form.row(
        ("4. INSURED'S NAME", _name(claim.subscriber)),
        ("6. PATIENT RELATIONSHIP TO INSURED", RELATIONSHIP.get(claim.relationship, "Other")),
    )
    form.row(
        ("5. PATIENT'S ADDRESS", _address(patient.address)),
        ("7. INSURED'S ADDRESS", _address(claim.subscriber.address)),
    )
    diagnoses = [
        f"{LETTERS[i]}. {code[:3]}.{code[3:]}" if len(code) > 3 else f"{LETTERS[i]}. {code}"
        for i, code in enumerate(claim.diagnoses)
    ]
    form.row(*(("21. DIAGNOSIS" if i == 0 else "", text) for i, text in enumerate((diagnoses + [""] * 12)[:6])))
    form.row(*(("", text) for text in (diagnoses + [""] * 12)[6:12]))
    form.pdf.ln(2)
    rendering_npi = claim.rendering.npi if claim.rendering else claim.billing.npi
    headers = (
        "24A. DATE OF SERVICE",
        "B. PLACE",
        "D. CPT/HCPCS  MODIFIER",
        "E. DIAG. POINTER",
        "F. $ CHARGES",
        "G. UNITS",
        "J. RENDERING NPI",
    )
    for number, line in enumerate(claim.lines, start=1):
        values = (
            line.service_date.strftime("%m %d %y"),
            claim.place_of_service,
            " ".join((line.code, *line.modifiers)),
            "".join(LETTERS[p - 1] for p in line.pointers if 0 < p <= len(LETTERS)),
            str(line.charge),
            str(line.units),
            rendering_npi,
        )
        form.row(
            *((f"{number}. {h}" if i == 0 else h, v) for i, (h, v) in enumerate(zip(headers, values, strict=True)))
        )
    form.pdf.ln(2)
    form.row(
        ("25. FEDERAL TAX I.D. NUMBER (EIN)", claim.billing.tax_id),
        ("26. PATIENT'S ACCOUNT NO.", claim.claim_id),
        ("28. TOTAL CHARGE", f"$ {claim.total}"),
    )
    rendering = f"{claim.rendering.given} {claim.rendering.name}" if claim.rendering else claim.billing.name
    form.row(
        ("31. SIGNATURE OF PHYSICIAN OR SUPPLIER", rendering),
        ("33. BILLING PROVIDER INFO & PH #", f"{claim.billing.name}  {claim.billing.phone}"),
    )
    form.row(("33. ADDRESS", _address(claim.billing.address)), ("33a. NPI", claim.billing.npi))
    return bytes(form.pdf.output())
