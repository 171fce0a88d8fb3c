"""X12 835 (005010X221A1) health care claim payment/advice, read with pyx12.

pyx12 first validates the file against its 835 map (envelopes, segment order, element types and
counts); then its reader walks the segments and this module keeps what posting needs: per
transaction set the payment (BPR), its trace (TRN), the payer (N1*PR), and per claim (CLP) the
amounts, the claim-level and service-line adjustments (CAS: group, CARC, amount) and remark codes
(LQ*HE, RARC). Checks beyond the map: a claim paid more than it charged, a claim whose charge is not
balanced by its payment and adjustments, a BPR total that is not the sum of the claims (less the
provider-level PLB adjustments). Every problem is reported with its line and segment; the caller
refuses the whole file.

pyx12 logs what it finds with the values it found (names, member ids): its loggers are kept out of the
server's log.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pyx12.errors
import pyx12.params
import pyx12.x12n_document
from pyx12.segment import Segment
from pyx12.x12file import X12Reader

from ...errors import InvalidRequest, Issue
from ...i18n import _
from ..accounts.money import ZERO, total

_PYX12_LOG = logging.getLogger("pyx12")
_PYX12_LOG.addHandler(logging.NullHandler())
_PYX12_LOG.propagate = False
MAX_PROBLEMS = 20
DENIED = "4"
"""CLP02 claim status: denied."""


@dataclass(frozen=True)
class Adjustment:
    """One CAS triplet: group (CO, PR, OA, PI, CR), CARC reason, amount."""

    group: str
    reason: str
    amount: Decimal


@dataclass
class ServiceLine:
    """One SVC: the procedure (qualifier:code), charged and paid, its adjustments and remark codes."""

    procedure: str
    charge: Decimal
    paid: Decimal
    day: str | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


@dataclass
class ClaimPayment:
    """One CLP and what follows it, with the line it starts on (for messages)."""

    line: int
    control: str
    """CLP01, the patient control number the practice sent in the 837's CLM01."""
    status: str
    charge: Decimal
    paid: Decimal
    payer_claim: str | None
    adjustments: list[Adjustment] = field(default_factory=list)
    services: list[ServiceLine] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)

    @property
    def denied(self) -> bool:
        return self.status == DENIED

    def all_adjustments(self) -> list[Adjustment]:
        return [*self.adjustments, *(a for s in self.services for a in s.adjustments)]


@dataclass
class Remittance:
    """One 835 transaction set: a check or EFT and the claims it pays."""

    interchange: str
    line: int
    amount: Decimal = ZERO
    method: str = ""
    day: str | None = None
    trace: str = ""
    payer_id: str = ""
    payer_name: str = ""
    provider_adjustments: Decimal = ZERO
    claims: list[ClaimPayment] = field(default_factory=list)


def _problem(line: int | None, segment: str | None, text: str) -> Issue:
    where = _("line {line}, segment {segment}").format(line=line if line is not None else "?", segment=segment or "?")
    return Issue("error", "structure", f"{where}: {text}")


def _refused(problems: list[Issue]) -> InvalidRequest:
    head = _("The 835 file was refused; nothing was imported. {problem}").format(problem=problems[0].diagnostics)
    return InvalidRequest(head, issues=problems[:MAX_PROBLEMS])


def _validation_problems(report: dict[str, Any]) -> Iterator[Issue]:
    """The errors of pyx12's JSON report, each with its line and segment."""

    def errors(node: dict[str, Any], line: Any, segment: str) -> Iterator[Issue]:
        for error in node.get("errors", []):
            yield _problem(line, segment, str(error.get("err_str", "")))

    for interchange in report.get("interchanges", []):
        yield from errors(interchange, interchange.get("cur_line"), "ISA")
        for group in interchange.get("groups", []):
            yield from errors(group, group.get("cur_line"), "GS")
            for transaction in group.get("transactions", []):
                yield from errors(transaction, transaction.get("cur_line"), "ST")
                for segment in transaction.get("segments", []):
                    yield from errors(segment, segment.get("cur_line"), segment.get("seg_id"))
                    for element in segment.get("elements", []):
                        yield from errors(element, segment.get("cur_line"), segment.get("seg_id"))


def validate(text: str) -> None:
    """Raise InvalidRequest listing what pyx12's 835 map finds wrong in `text` (nothing: it is valid X12)."""
    report = io.StringIO()
    try:
        valid = pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(), src_file=io.StringIO(text), fd_997=None, fd_html=None, fd_json=report
        )
    except (pyx12.errors.X12Error, pyx12.errors.EngineError, ValueError, KeyError, IndexError) as exc:
        raise _refused([_problem(None, None, str(exc))]) from exc
    if valid:
        return
    try:
        problems = list(_validation_problems(json.loads(report.getvalue() or "{}")))
    except ValueError:
        problems = []
    raise _refused(problems or [_problem(1, "ISA", _("This is not an X12 interchange."))])


def _amount(segment: Segment, ref: str, line: int, required: bool = True) -> Decimal:
    text = segment.get_value(ref)
    if not text:
        if required:
            raise _refused([_problem(line, ref, _("{element} is required.").format(element=ref))])
        return ZERO
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        message = _("{element} is not an amount.").format(element=ref)
        raise _refused([_problem(line, ref, message)]) from exc


def _day(text: str | None) -> str | None:
    if text and len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return None


def _adjustments(segment: Segment, line: int) -> list[Adjustment]:
    group = segment.get_value("CAS01") or ""
    found = []
    for first in range(2, 20, 3):
        reason = segment.get_value(f"CAS{first:02d}")
        if reason:
            found.append(Adjustment(group, reason, _amount(segment, f"CAS{first + 1:02d}", line)))
    return found


def _segments(text: str) -> Iterator[tuple[int, Segment, str]]:
    reader = X12Reader(io.StringIO(text))
    interchange = ""
    for segment in reader:
        if segment.get_seg_id() == "ISA":
            interchange = segment.get_value("ISA13") or ""
        yield reader.get_cur_line(), segment, interchange


def read_835(text: str) -> list[Remittance]:
    """The remittances of a valid 835 interchange; InvalidRequest (line and segment named) for any problem."""
    validate(text)
    remittances: list[Remittance] = []
    claim: ClaimPayment | None = None
    service: ServiceLine | None = None
    for line, segment, interchange in _segments(text):
        seg_id = segment.get_seg_id()
        if seg_id == "ST":
            if segment.get_value("ST01") != "835":
                raise _refused([_problem(line, "ST", _("This is not an 835 remittance (ST01 is not 835)."))])
            remittances.append(Remittance(interchange, line))
            claim = service = None
        elif not remittances:
            continue
        remittance = remittances[-1]
        if seg_id == "BPR":
            remittance.amount = _amount(segment, "BPR02", line)
            remittance.method = segment.get_value("BPR04") or ""
            remittance.day = _day(segment.get_value("BPR16"))
        elif seg_id == "TRN":
            remittance.trace = segment.get_value("TRN02") or ""
            remittance.payer_id = segment.get_value("TRN03") or ""
        elif seg_id == "N1" and segment.get_value("N101") == "PR":
            remittance.payer_name = segment.get_value("N102") or ""
        elif seg_id == "CLP":
            claim = ClaimPayment(
                line=line,
                control=segment.get_value("CLP01") or "",
                status=segment.get_value("CLP02") or "",
                charge=_amount(segment, "CLP03", line),
                paid=_amount(segment, "CLP04", line),
                payer_claim=segment.get_value("CLP07"),
            )
            remittance.claims.append(claim)
            service = None
        elif seg_id == "SVC" and claim is not None:
            procedure = segment.get_value("SVC01") or ""
            service = ServiceLine(procedure, _amount(segment, "SVC02", line), _amount(segment, "SVC03", line))
            claim.services.append(service)
        elif seg_id == "DTM" and service is not None and segment.get_value("DTM01") in ("150", "472"):
            service.day = _day(segment.get_value("DTM02"))
        elif seg_id == "CAS" and claim is not None:
            (service.adjustments if service else claim.adjustments).extend(_adjustments(segment, line))
        elif seg_id == "LQ" and segment.get_value("LQ01") == "HE":
            (service.remarks if service else claim.remarks if claim else []).append(segment.get_value("LQ02") or "")
        elif seg_id == "PLB":
            amounts = [
                _amount(segment, f"PLB{n:02d}", line) for n in range(4, 15, 2) if segment.get_value(f"PLB{n:02d}")
            ]
            remittance.provider_adjustments += total(amounts)
    _check(remittances)
    return remittances


def _check(remittances: list[Remittance]) -> None:
    """Refuse what the map cannot see: amounts that do not add up."""
    problems: list[Issue] = []
    for remittance in remittances:
        if not remittance.trace:
            problems.append(_problem(remittance.line, "TRN", _("The check or EFT trace number (TRN02) is missing.")))
        for claim in remittance.claims:
            if claim.paid > claim.charge:
                message = _("Claim {claim}: the payment (CLP04) is larger than the charge (CLP03).")
                problems.append(_problem(claim.line, "CLP", message.format(claim=claim.control)))
            adjusted = total(a.amount for a in claim.all_adjustments())
            if claim.charge - claim.paid - adjusted != 0:
                message = _("Claim {claim} does not balance: charge {charge}, paid {paid}, adjustments {adjusted}.")
                problems.append(
                    _problem(
                        claim.line,
                        "CLP",
                        message.format(claim=claim.control, charge=claim.charge, paid=claim.paid, adjusted=adjusted),
                    )
                )
        paid = total(claim.paid for claim in remittance.claims) - remittance.provider_adjustments
        if paid != remittance.amount:
            message = _("The payment total (BPR02 {total}) is not the sum of the claim payments less PLB ({paid}).")
            problems.append(_problem(remittance.line + 1, "BPR", message.format(total=remittance.amount, paid=paid)))
    if problems:
        raise _refused(problems)
