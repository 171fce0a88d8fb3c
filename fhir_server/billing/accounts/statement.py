"""`Patient/[id]/$statement`: what the patient owes, as an Invoice (stored) and a PDF (the response).

The lines are the ledger entries the patient owes themselves (self-pay charges, their share after
insurance, their payments), the amount due is their part of their accounts' balances (`balance_of`).
The PDF is written in the patient's language (Patient.communication, the preferred one first, when the
server has it; else the request's), with that language's dates and money.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from ...engine.create import create_resource
from ...engine.read import read_resource
from ...errors import Unprocessable
from ...i18n import _, available_languages, current_language, use_language
from ...rest.context import base_url, store_of
from ...rest.operations.declaration import INSTANCE, Operation, OperationCall
from ...storage.billing_ledger import LedgerEntry
from .access import require_billing
from .balance import balance_of
from .money import ZERO, money, total
from .operations import ledger
from .statement_pdf import Statement, StatementLine, render_statement


def patient_language(patient: dict[str, Any]) -> str:
    """The patient's language when the server speaks it, else the request's."""
    spoken = sorted(patient.get("communication", []), key=lambda c: not c.get("preferred", False))
    for communication in spoken:
        for coding in (communication.get("language") or {}).get("coding", []):
            code = str(coding.get("code", "")).split("-")[0].lower()
            if code in available_languages():
                return code
    return current_language()


def _name(patient: dict[str, Any]) -> str:
    for name in patient.get("name", []):
        words = [*name.get("given", []), name.get("family", "")]
        if any(words):
            return " ".join(w for w in words if w)
    return str(patient.get("id", ""))


def _description(entry: LedgerEntry) -> str:
    words = {
        "charge": _("Charge"),
        "payment": _("Payment"),
        "adjustment": _("Adjustment"),
        "transfer": _("Your share after insurance"),
    }
    word = words.get(entry.kind, entry.kind)
    return f"{word} ({', '.join(entry.codes)})" if entry.codes else word


def _invoice(patient: str, account: str, lines: list[LedgerEntry], due: Any, currency: str, now: str) -> dict[str, Any]:
    return {
        "resourceType": "Invoice",
        "status": "issued",
        "subject": {"reference": patient},
        "date": now,
        "account": {"reference": account},
        "lineItem": [
            {
                "sequence": number,
                "chargeItemCodeableConcept": {"text": _description(entry)},
                "priceComponent": [{"type": "base", "amount": money(entry.amount, entry.currency)}],
            }
            for number, entry in enumerate(lines, start=1)
        ],
        "totalGross": money(due, currency),
        "totalNet": money(due, currency),
    }


async def patient_statement(call: OperationCall) -> Response:
    require_billing(call.policy, "c", "Invoice")
    store = store_of(call.request)
    record = await read_resource(store, call.policy, "Patient", str(call.resource_id))
    patient = record.resource()
    entries = await ledger(call).of_patient(record.reference)
    own = [entry for entry in entries if entry.party == record.reference]
    if not own:
        raise Unprocessable(
            _("{patient} owes nothing: there is no statement to send.").format(patient=record.reference)
        )
    currency = own[0].currency
    accounts = sorted({entry.account for entry in entries})
    due = total(balance_of(a, entries).by_party.get(record.reference, ZERO) for a in accounts)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    use_language(patient_language(patient))  # the Invoice's words and the PDF are the patient's
    invoice = _invoice(record.reference, accounts[0], own, due, currency, now)
    written = await create_resource(store, call.policy, "Invoice", invoice)
    lines = [StatementLine(e.date, _description(e), e.amount) for e in own]
    pdf = render_statement(Statement(_name(patient), now[:10], currency, lines, due), current_language())
    location = f"{base_url(call.request)}/{written.record.reference}"
    return Response(pdf, media_type="application/pdf", headers={"Content-Location": location})


STATEMENT = Operation(
    code="statement",
    id="Patient-statement",
    title="Patient statement",
    description=(
        "Issue a statement of what the patient owes: stores an Invoice (named in Content-Location) and "
        "answers with its PDF, in the patient's language with that language's money and dates. Billing role."
    ),
    levels=(INSTANCE,),
    resource_types=("Patient",),
    affects_state=True,
    parameters=(),
    handler=patient_statement,
)
