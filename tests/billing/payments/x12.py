"""835 files for the tests, written segment by segment after the envelope of pyx12's own sample
(pyx12/tests/835_mult_loops.txt): ISA/GS/ST, BPR, TRN, the payer and payee loops, then the claims."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Line:
    """One SVC: procedure code, charged, paid and its CAS adjustments (group, CARC, amount) and RARCs."""

    code: str
    charge: str
    paid: str
    adjustments: list[tuple[str, str, str]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


@dataclass
class Clp:
    control: str
    status: str
    charge: str
    paid: str
    patient_share: str
    payer_claim: str
    lines: list[Line]


def x12_835(claims: list[Clp], paid: str, trace: str, control: str = "000000901", payer: str = "1386000134") -> str:
    body = [
        f"BPR*C*{paid}*C*CHK************20261120",
        f"TRN*1*{trace}*{payer}",
        "DTM*405*20261120",
        "N1*PR*ACME HEALTH PLAN",
        "N3*P.O. BOX 30479",
        "N4*LANSING*MI*48909",
        "PER*BL*CLAIMS DESK*TE*9995551212",
        "N1*PE*SMALL PRACTICE*FI*444313000",
        "LX*1",
    ]
    for claim in claims:
        body.append(
            f"CLP*{claim.control}*{claim.status}*{claim.charge}*{claim.paid}*{claim.patient_share}*MC*{claim.payer_claim}"
        )
        body.append("NM1*QC*1*DOE*JANE****MR*00001612")
        for line in claim.lines:
            body += [f"SVC*HC:{line.code}*{line.charge}*{line.paid}**1", "DTM*472*20261102"]
            body += [f"CAS*{group}*{reason}*{amount}" for group, reason, amount in line.adjustments]
            body += [f"LQ*HE*{remark}" for remark in line.remarks]
    segments = ["ST*835*0001", *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    envelope = [
        f"ISA*00*          *00*          *ZZ*D00000         *ZZ*00AA           *261120*1609*^*00501*{control}*0*P*:",
        "GS*HP*D00111*00GR*20261120*1609*383880001*X*005010X221A1",
        *segments,
        "GE*1*383880001",
        f"IEA*1*{control}",
    ]
    return "~\n".join(envelope) + "~\n"
