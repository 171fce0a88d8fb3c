"""The order message for a lab: OML^O21 or ORM^O01, built by hand like the ACKs (see `header.py` for why).

MSH, PID (from the Patient), ORC + TQ1 (priority and requested time: TQ1-9 and TQ1-7/8 in OML from
2.5 on, else ORC-7.6 and ORC-7.4/5; ORM_O01 has no TQ1), OBR (placer number, code, ordering
provider; OBR-15 the specimen type where there is no SPM), NTE (notes), one OBX per
ask-at-order-entry answer (the Observations in ServiceRequest.supportingInfo; not in a cancel) and,
in OML from 2.5 on, one SPM per Specimen (type, id, collection time).

ORC-1 (table 0119) is the order control: NW new, XO change, HD hold, RL release, CA cancel. Every
message but the cancel carries the whole order as it stands in the ServiceRequest version it was
built from, with the same placer number (ORC-2/OBR-2). ORC-5 (order status, table 0038) stays
empty: the standard lets only the filler originate it.
Original acknowledgement mode (MSH-15/16 empty): the lab answers AA, AE or AR with MSA-2 = our MSH-10.
https://www.hl7.org/implement/standards/product_brief.cfm?product_id=144 (v2.5.1 chapter 4)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from fhir_server.i18n import _
from fhir_server.storage.hl7_outbox import CANCEL

from ..ack import escape
from .datatypes import SEX, components, cwe, cx, ei, system_name, ts, xcn, xpn
from .lab import Lab

PRIORITY = {"routine": "R", "urgent": "A", "asap": "A", "stat": "S"}
"""ServiceRequest.priority -> HL7 table 0027 (ORC-7.6, before TQ1) and table 0485 (TQ1-9): S, A and R are the
inverse of the v2-to-FHIR ConceptMap table-hl70485-to-request-priority; 0485 has no `urgent` (P preop, C callback
and T timing critical are not it), so it asks for ASAP, the nearest code that makes the lab hurry."""
PRIORITY_TEXT = {"S": "Stat", "A": "ASAP", "R": "Routine"}
ICD10 = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
RELATIONSHIP = {"self": "SEL", "spouse": "SPO", "child": "CHD", "parent": "PAR", "common": "DOM", "other": "OTH",
                "injured": "EME"}  # fmt: skip
"""Coverage.relationship (subscriber-relationship) -> IN1-17 (HL7 table 0063)."""
CHARSET = "UNICODE UTF-8"
"""MSH-18 from 2.5 on (table 0211 has no UTF-8 before); older messages leave it empty, and are sent as UTF-8."""


@dataclass(frozen=True)
class OrderSettings:
    """What the server says about every order message (`FHIR_HL7_SENDING_FACILITY`, `FHIR_HL7_PLACER_LENGTH`)."""

    sending_facility: str = ""
    """MSH-4 when the lab's Endpoint sets none."""
    placer_length: int = 15
    """Longest placer order number (ORC-2/OBR-2) the server makes up: many LIS keep 15 characters at most."""


class OrderError(ValueError):
    """The order cannot be expressed as a message (no patient, no code): it is flagged, not sent."""


@dataclass
class OrderData:
    """The resources one order message is built from."""

    service_request: dict[str, Any]
    patient: dict[str, Any]
    requester: dict[str, Any] | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)
    specimens: list[dict[str, Any]] = field(default_factory=list)
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    """Why it is ordered: reasonCode and the code of each reasonReference Condition (CodeableConcepts)."""
    coverages: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    """ServiceRequest.insurance: each Coverage with its payor Organization (None when not an Organization here)."""


def order_message(
    order: OrderData,
    lab: Lab,
    control: str,
    control_id: str,
    placer: dict[str, Any],
    moment: datetime,
    settings: OrderSettings = OrderSettings(),
) -> str:
    """The message text (CR-separated segments). Raises OrderError when the order lacks what a lab needs."""
    request = order.service_request
    code = request.get("code") or {}
    if not code.get("coding") and not code.get("text"):
        raise OrderError(_("ServiceRequest.code is empty: the lab cannot tell what is ordered."))
    stamp = moment.strftime("%Y%m%d%H%M%S%z")
    kind, event = lab.message_type
    msh9 = components(kind, event, lab.structure) if lab.version >= "2.3.1" else components(kind, event)
    facility = escape(lab.sending_facility or settings.sending_facility)
    msh = ["MSH", "^~\\&", escape(lab.sending_app), facility, escape(lab.receiving_app),
           escape(lab.receiving_facility), stamp, "", msh9, control_id, escape(lab.processing_id), lab.version,
           "", "", "", "", "", CHARSET if lab.version >= "2.5" else ""]  # fmt: skip
    priority = PRIORITY.get(str(request.get("priority", "")), "")
    start, end = _occurrence(request)
    placer_ei = ei(placer)
    requester = xcn(order.requester, str((request.get("requester") or {}).get("display", "")), lab.version)
    modern = lab.structure == "OML_O21" and lab.version >= "2.5"
    timing = modern and bool(priority or start)
    orc7 = components("", "", "", start, end, priority) if not modern else ""
    orc = ["ORC", control, placer_ei, "", "", "", "", orc7, "", stamp, "", "", requester]
    obr15 = "" if modern else _specimen_source(order.specimens)
    obr = ["OBR", "1", placer_ei, "", cwe(code), *[""] * 10, obr15, requester]
    segments = ["|".join(msh).rstrip("|"), _pid(order.patient)]
    segments += [_in1(n, coverage, payor) for n, (coverage, payor) in enumerate(order.coverages, 1)]
    segments.append("|".join(orc).rstrip("|"))
    if timing:
        tq1_9 = components(priority, PRIORITY_TEXT[priority], "HL70485") if priority else ""
        tq1 = ["TQ1", "1", "", "", "", "", "", start, end, tq1_9]
        segments.append("|".join(tq1).rstrip("|"))
    segments.append("|".join(obr).rstrip("|"))
    notes = [str(n.get("text", "")) for n in request.get("note") or () if n.get("text")]
    segments += [f"NTE|{n}||{escape(text)}" for n, text in enumerate(notes, 1)]
    segments += [s for s in (_dg1(n, concept) for n, concept in enumerate(order.diagnoses, 1)) if s]
    if control != CANCEL:
        segments += [s for s in (_obx(n, obs, lab) for n, obs in enumerate(order.answers, 1)) if s]
    if modern:
        segments += [s for s in (_spm(n, specimen) for n, specimen in enumerate(order.specimens, 1)) if s]
    return "\r".join(segments) + "\r"


def _pid(patient: dict[str, Any]) -> str:
    ids = "~".join(cx(i) for i in patient.get("identifier") or () if i.get("value"))
    ids = ids or components(escape(str(patient.get("id", ""))), "", "", "", "PI")
    names = "~".join(xpn(n) for n in patient.get("name") or ())
    sex = SEX.get(str(patient.get("gender", "")), "")
    return "|".join(["PID", "1", "", ids, "", names, "", ts(patient.get("birthDate")), sex]).rstrip("|")


def _dg1(number: int, concept: dict[str, Any]) -> str | None:
    """DG1 for one reason: its ICD-10 coding when it has one (else its first), diagnosis type W (working)."""
    codings = concept.get("coding") or []
    icd = [c for c in codings if c.get("system") in ICD10] or codings
    if not icd and not concept.get("text"):
        return None
    chosen = {**concept, "coding": icd[:1]}
    text = escape(str(icd[0].get("display") or concept.get("text", "")) if icd else str(concept.get("text", "")))
    return "|".join(["DG1", str(number), "", cwe(chosen), text, "", "W"])


def _in1(number: int, coverage: dict[str, Any], payor: dict[str, Any] | None) -> str:
    """IN1: plan (Coverage class `plan`, else type), insurance company id and name (payor Organization), group
    number (class `group`), effective and expiration dates (period), insured's relationship (table 0063),
    policy number (subscriberId, else the Coverage's first identifier)."""
    classes = {str(((c.get("type") or {}).get("coding") or [{}])[0].get("code", "")): c
               for c in coverage.get("class") or ()}  # fmt: skip
    plan = classes.get("plan")
    plan_id = components(escape(str(plan.get("value", ""))), escape(str(plan.get("name", "")))) if plan else ""
    plan_id = plan_id or cwe(coverage.get("type") or {})
    payor_ids = [i for i in (payor or {}).get("identifier") or () if i.get("value")]
    company_id = cx(payor_ids[0]) if payor_ids else ""
    company = escape(str((payor or {}).get("name", "")))
    group = escape(str(classes["group"].get("value", ""))) if "group" in classes else ""
    period = coverage.get("period") or {}
    relation = ""
    for coding in (coverage.get("relationship") or {}).get("coding") or ():
        if code := RELATIONSHIP.get(str(coding.get("code", ""))):
            relation = components(code, "", "HL70063")
    ids = [str(i.get("value")) for i in coverage.get("identifier") or () if i.get("value")]
    policy = escape(str(coverage.get("subscriberId") or (ids[0] if ids else "")))
    fields = ["IN1", str(number), plan_id, company_id, company, "", "", "", group, "", "", "",
              ts(period.get("start")), ts(period.get("end")), "", "", "", relation, *[""] * 18, policy]  # fmt: skip
    return "|".join(fields).rstrip("|")


def _obx(number: int, observation: dict[str, Any], lab: Lab) -> str | None:
    """An ask-at-order-entry answer; None for a value type with no v2 counterpart here."""
    units = ""
    if "valueQuantity" in observation:
        quantity = observation["valueQuantity"]
        kind, value = "NM", _nm(quantity.get("value"))
        unit = str(quantity.get("unit") or quantity.get("code") or "")
        if quantity.get("code") or unit:
            code = str(quantity.get("code") or unit)
            units = components(
                escape(code), escape(unit), system_name(quantity.get("system")) if quantity.get("system") else ""
            )
    elif "valueCodeableConcept" in observation:
        kind, value = ("CWE" if lab.version >= "2.5" else "CE"), cwe(observation["valueCodeableConcept"])
    elif "valueString" in observation:
        kind, value = "ST", escape(str(observation["valueString"]))
    elif "valueBoolean" in observation:
        kind, value = "ST", "Y" if observation["valueBoolean"] else "N"
    elif "valueInteger" in observation:
        kind, value = "NM", str(observation["valueInteger"])
    elif "valueDateTime" in observation:
        kind, value = ("DTM" if lab.version >= "2.5" else "TS"), ts(observation["valueDateTime"])
    else:
        return None
    fields = ["OBX", str(number), kind, cwe(observation.get("code") or {}), "", value, units, "", "", "", "", "O"]
    return "|".join(fields)


def _nm(value: Any) -> str:
    """A FHIR decimal as a v2 NM: fixed-point, with its significant digits (`1.0E+2` is `100`, `1.50` stays
    `1.50`), since NM has no exponent form; empty when there is no number."""
    if value is None or isinstance(value, bool):
        return ""
    return format(value if isinstance(value, Decimal) else Decimal(str(value)), "f")


def _occurrence(request: dict[str, Any]) -> tuple[str, str]:
    """The requested start and end (occurrenceDateTime, or occurrencePeriod) as v2 times."""
    if "occurrenceDateTime" in request:
        return ts(request["occurrenceDateTime"]), ""
    period = request.get("occurrencePeriod") or {}
    return ts(period.get("start")), ts(period.get("end"))


def _spm(number: int, specimen: dict[str, Any]) -> str | None:
    """SPM: set id, specimen id (placer part of EIP), type (required: None without one), collection time."""
    kind = specimen.get("type") or {}
    if not kind.get("coding") and not kind.get("text"):
        return None
    ids = [str(i.get("value")) for i in specimen.get("identifier") or () if i.get("value")]
    collection = specimen.get("collection") or {}
    collected = ts(collection.get("collectedDateTime") or (collection.get("collectedPeriod") or {}).get("start"))
    fields = ["SPM", str(number), escape(ids[0]) if ids else "", "", cwe(kind), *[""] * 12, collected]
    return "|".join(fields).rstrip("|")


def _specimen_source(specimens: list[dict[str, Any]]) -> str:
    """OBR-15.1 (SPS/CM: the specimen source as a CWE/CE in subcomponents) of the first typed Specimen."""
    for specimen in specimens:
        kind = specimen.get("type") or {}
        if kind.get("coding") or kind.get("text"):
            return cwe(kind, sep="&")
    return ""
