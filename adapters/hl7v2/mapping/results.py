"""ORU^R01 → Patient, Encounter, DiagnosticReport per OBR, Observation per OBX, Specimen per SPM.

Results are never refused: an order the server may not know gets a placeholder ServiceRequest
(conditional create, `status: unknown`, tagged unsolicited) and a Task asking for review, unless
`MappingOptions.order_exists` says the order is known.
https://build.fhir.org/ig/HL7/v2-to-fhir/ConceptMap-message-oru-r01-to-bundle.html
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fhir_server.i18n import _

from .bundle import Transaction, ref
from .datatypes import datetime_of
from .encounter import add_encounter
from .model import Context
from .observation import notes_of
from .orders import add_observations, build_service_request, message_key, order_code, order_numbers
from .patient import add_patient
from .segments import Message, OrderGroup, order_groups
from .specimen import add_specimens
from .tables import REPORT_STATUS

REPORT_SYSTEM = "urn:hl7v2:diagnostic-report"
TASK_SYSTEM = "urn:hl7v2:task:review-unsolicited-result"
TAG_SYSTEM = "urn:hl7v2:tag"
UNSOLICITED_TAG = {"system": TAG_SYSTEM, "code": "unsolicited-result", "display": "Created from an unsolicited result"}
REVIEW_CODE = {
    "coding": [{"system": TAG_SYSTEM, "code": "review-unsolicited-result"}],
    "text": "review unsolicited result",
}
DR_NOTE_URL = "http://hl7.org/fhir/5.0/StructureDefinition/extension-DiagnosticReport.note"


def report_status(group: OrderGroup, ctx: Context) -> str:
    """OBR-25 (table 0123) → DiagnosticReport.status; empty or unknown → 'unknown' with a warning."""
    assert group.obr is not None
    code = group.obr.c(25).upper()
    if code in REPORT_STATUS:
        return REPORT_STATUS[code]
    if code:
        ctx.warn("103", group.obr.loc(25), _("'{value}' is not in table 0123 (result status)").format(value=code))
    else:
        ctx.warn("101", group.obr.loc(25), _("OBR-25 (result status) is empty: status 'unknown'"))
    return "unknown"


def _report_keys(groups: list[OrderGroup], message: Message) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """Per OBR: its identifiers and its key (filler, else placer number; `-<OBR-4>` added when the message
    reuses that number for several OBRs of different tests)."""
    out = []
    for index, group in enumerate(groups, 1):
        placer, filler = order_numbers(group)
        ids = [i for i in (placer, filler) if i]
        number = filler or placer or message_key(message, index)
        out.append((ids, number))
    counts = Counter(n["value"] for _, n in out)
    keyed = []
    for group, (ids, number) in zip(groups, out, strict=True):
        value = number["value"]
        if counts[value] > 1 and group.obr is not None and group.obr.c(4):
            value = f"{value}-{group.obr.c(4)}"
        keyed.append((ids, {"system": REPORT_SYSTEM, "value": value}))
    return keyed


def _order_ref(
    group: OrderGroup, ids: list[dict[str, Any]], patient: str, report: str, ctx: Context, tx: Transaction
) -> str | None:
    """The ServiceRequest as a conditional create (placeholder when unknown) and, if unknown, a review Task."""
    if not ids:
        return None
    key = ids[0]
    request = build_service_request(group, ids, "unknown", patient, ctx)
    request["meta"] = {"tag": [UNSOLICITED_TAG]}
    url = tx.create(request, key)
    known = ctx.options.order_exists
    if known is None or not known(key.get("system", ""), key["value"]):
        task_key = {"system": TASK_SYSTEM, "value": key["value"]}
        task = {
            "resourceType": "Task",
            "identifier": [task_key],
            "status": "requested",
            "intent": "order",
            "code": REVIEW_CODE,
            "focus": ref(report),
            "for": ref(patient),
            "basedOn": [ref(url)],
        }
        tx.create(task, task_key)
    return url


def map_result(message: Message, ctx: Context) -> Transaction | None:
    """An ORU^R01 message as a transaction; None when the patient can't be identified."""
    tx = Transaction()
    patient = add_patient(message, ctx, tx, update=False)
    if patient is None:
        return None
    encounter = add_encounter(message.first("PV1"), patient, "unknown", ctx, tx, update=False)
    groups = [g for g in order_groups(message) if g.obr is not None]
    if not groups:
        ctx.error("101", "OBR", _("an ORU^R01 message needs at least one OBR"))
        return None
    for group, (ids, key) in zip(groups, _report_keys(groups, message), strict=True):
        assert group.obr is not None
        if tx.has("DiagnosticReport", key):
            ctx.warn(
                "207",
                group.obr.loc(1),
                _("OBR repeats report {report}: the later one is kept").format(report=key["value"]),
            )
        report: dict[str, Any] = {"resourceType": "DiagnosticReport", "identifier": [key, *ids]}
        report_url = tx.own(report, key)  # reserve the fullUrl; the content is filled in below
        order = _order_ref(group, ids, patient, report_url, ctx, tx)
        if order:
            report["basedOn"] = [ref(order)]
        report["status"] = report_status(group, ctx)
        code = order_code(group, ctx)
        if code is None:
            ctx.warn("101", group.obr.loc(4), _("OBR-4 (universal service identifier) is empty"))
        report["code"] = code or {"text": "unknown"}
        report["subject"] = ref(patient)
        if encounter:
            report["encounter"] = ref(encounter)
        if when := datetime_of(group.obr.c(7), ctx, group.obr.loc(7)):
            report["effectiveDateTime"] = when
        issued = datetime_of(group.obr.c(22), ctx, group.obr.loc(22))
        if issued and "T" in issued:
            report["issued"] = issued
        if specimens := add_specimens(group.specimens, patient, key["value"], ctx, tx):
            report["specimen"] = [ref(u) for u in specimens]
        results = add_observations(group, key["value"], patient, encounter, ctx, tx)
        if results:
            report["result"] = [ref(u) for u in results]
        for entry in tx.entries.values():
            if entry["fullUrl"] in results:
                if specimens:
                    entry["resource"]["specimen"] = ref(specimens[0])
                if order:
                    entry["resource"]["basedOn"] = [ref(order)]
        if notes := notes_of(group.notes):  # R4 DiagnosticReport has no note: R5 cross-version extension
            report["extension"] = [{"url": DR_NOTE_URL, "valueAnnotation": note} for note in notes]
    return tx
