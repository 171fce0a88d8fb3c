"""Posting an 835: its remittances become one transaction of FHIR resources, all or nothing.

Per transaction set: a PaymentReconciliation (the check or EFT: BPR amount and date, TRN trace), per
claim payment (CLP) a ClaimResponse linked to the Claim whose identifier (or id) is the patient control
number CLP01, carrying the Account it posts to (the patient's active Account, the one listing the
Claim's coverage first), and per denied claim (CLP02 = 4) a Task for the billing office. The write
rules post the ClaimResponses to the ledger in the same transaction (accounts/rules.py).

Idempotent: each resource is created only if none has its identifier (payer id / trace number, and the
claim's place in the remittance), so importing the same 835 again, even twice at once, changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...auth.policy import AccessPolicy
from ...engine.bundle.transaction import process_transaction
from ...engine.search import search_type
from ...errors import InvalidRequest, Issue
from ...i18n import _
from ...search.registry import default_registry
from ...search.request import SearchRequest, parse_search_request
from ...storage import ResourceStore, StoredResource
from ..accounts.money import money
from ..accounts.postings import ACCOUNT_EXTENSION, CARC_SYSTEM, CAS_GROUP_SYSTEM, PAYMENT_TYPE_SYSTEM, RARC_SYSTEM
from .x12_835 import Adjustment, ClaimPayment, Remittance

REMITTANCE_SYSTEM = "urn:fhir-server:billing:x12-835"
"""Identifier system of what an 835 creates; values `<payer id>/<trace>` and `<payer id>/<trace>/<claim n>`."""
ADJUDICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication"
CURRENCY = "USD"
"""X12 835 amounts are in US dollars (a CUR segment is not supported)."""
BILLING_ROLE_SYSTEM = "urn:fhir-server:role"


@dataclass(frozen=True)
class ClaimTarget:
    """The Claim a CLP pays and where it posts."""

    claim: str
    patient: str
    insurer: str
    account: str


async def _find(
    store: ResourceStore, policy: AccessPolicy, resource_type: str, criteria: Sequence[tuple[str, str]], limit: int
) -> list[StoredResource]:
    request = parse_search_request(
        resource_type, criteria, default_registry(), default_count=limit, max_count=limit, strict=True
    )
    narrowed = SearchRequest(request.resource_type, request.filters, limit, total="none")
    return (await search_type(store, policy, narrowed)).page.records


def _unknown(claim: ClaimPayment, text: str) -> Issue:
    where = _("line {line}, segment {segment}").format(line=claim.line, segment="CLP")
    return Issue("error", "not-found", f"{where}: {text}")


async def _target(store: ResourceStore, policy: AccessPolicy, payment: ClaimPayment) -> ClaimTarget | Issue:
    """The Claim CLP01 names and the account it posts to, or the problem (for the 400)."""
    found = await _find(store, policy, "Claim", [("identifier", payment.control)], 2)
    if not found and payment.control.replace("-", "").replace(".", "").isalnum():
        found = await _find(store, policy, "Claim", [("_id", payment.control)], 2)
    if len(found) != 1:
        return _unknown(
            payment, _("no Claim has the patient control number {claim} (CLP01).").format(claim=payment.control)
        )
    claim = found[0].resource()
    patient = (claim.get("patient") or {}).get("reference")
    insurer = (claim.get("insurer") or {}).get("reference")
    if not isinstance(patient, str) or not isinstance(insurer, str):
        return _unknown(payment, _("Claim {claim} has no patient or insurer.").format(claim=found[0].reference))
    accounts = await _find(store, policy, "Account", [("subject", patient), ("status", "active")], 20)
    if not accounts:
        return _unknown(payment, _("{patient} has no active Account to post to.").format(patient=patient))
    coverages = {i.get("coverage", {}).get("reference") for i in claim.get("insurance", [])}

    def covers(record: StoredResource) -> bool:
        return any(c.get("coverage", {}).get("reference") in coverages for c in record.resource().get("coverage", []))

    account = next((a for a in accounts if covers(a)), accounts[0])
    return ClaimTarget(found[0].reference, patient, insurer, account.reference)


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _adjudications(adjustments: Sequence[Adjustment], remarks: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for adjustment in adjustments:
        reason = {"coding": [{"system": CARC_SYSTEM, "code": adjustment.reason}]}
        reason["coding"] += [{"system": RARC_SYSTEM, "code": remark} for remark in remarks if remark]
        out.append(
            {
                "category": _concept(CAS_GROUP_SYSTEM, adjustment.group),
                "reason": reason,
                "amount": money(adjustment.amount, CURRENCY),
            }
        )
    return out


def _claim_response(
    remittance: Remittance, payment: ClaimPayment, target: ClaimTarget, key: str, now: str
) -> dict[str, Any]:
    items = []
    for number, service in enumerate(payment.services, start=1):
        adjudication = [
            {"category": _concept(ADJUDICATION_SYSTEM, "submitted"), "amount": money(service.charge, CURRENCY)},
            {"category": _concept(ADJUDICATION_SYSTEM, "benefit"), "amount": money(service.paid, CURRENCY)},
            *_adjudications(service.adjustments, service.remarks),
        ]
        items.append({"itemSequence": number, "adjudication": adjudication})
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "extension": [{"url": ACCOUNT_EXTENSION, "valueReference": {"reference": target.account}}],
        "identifier": [{"system": REMITTANCE_SYSTEM, "value": key}],
        "status": "active",
        "type": _concept("http://terminology.hl7.org/CodeSystem/claim-type", "professional"),
        "use": "claim",
        "patient": {"reference": target.patient},
        "created": now,
        "insurer": {"reference": target.insurer},
        "request": {"reference": target.claim},
        "outcome": "complete",
        "disposition": _("Denied") if payment.denied else _("Processed"),
        "payment": {
            "type": _concept("http://terminology.hl7.org/CodeSystem/ex-paymenttype", "complete"),
            "amount": money(payment.paid, CURRENCY),
            **({"date": remittance.day} if remittance.day else {}),
        },
        "total": [
            {"category": _concept(ADJUDICATION_SYSTEM, "submitted"), "amount": money(payment.charge, CURRENCY)},
            {"category": _concept(ADJUDICATION_SYSTEM, "benefit"), "amount": money(payment.paid, CURRENCY)},
        ],
    }
    if payment.payer_claim:
        response["identifier"].append({"system": f"{REMITTANCE_SYSTEM}:payer-claim", "value": payment.payer_claim})
    if items:
        response["item"] = items
    if payment.adjustments:
        response["adjudication"] = _adjudications(payment.adjustments, payment.remarks)
    return response


def _denial_task(payment: ClaimPayment, target: ClaimTarget, key: str, response_url: str, now: str) -> dict[str, Any]:
    reasons = [f"{a.group}-{a.reason}" for a in payment.all_adjustments()]
    return {
        "resourceType": "Task",
        "identifier": [{"system": REMITTANCE_SYSTEM, "value": key}],
        "status": "requested",
        "intent": "order",
        "priority": "routine",
        "code": {"text": _("Review a denied claim")},
        "description": _("The payer denied claim {claim} ({reasons}).").format(
            claim=payment.control, reasons=", ".join(reasons) or "-"
        ),
        "focus": {"reference": response_url},
        "for": {"reference": target.patient},
        "authoredOn": now,
        "performerType": [{"coding": [{"system": BILLING_ROLE_SYSTEM, "code": "billing"}], "text": "billing"}],
        "reasonReference": {"reference": target.claim},
    }


def _create(resource: dict[str, Any], key: str, full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {
            "method": "POST",
            "url": resource["resourceType"],
            "ifNoneExist": f"identifier={REMITTANCE_SYSTEM}|{key}",
        },
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


@dataclass
class Posted:
    """What an import wrote (or found already written)."""

    reconciliations: list[str]
    responses: list[str]
    tasks: list[str]
    already: bool


def _reconciliation(remittance: Remittance, details: list[dict[str, Any]], key: str, now: str) -> dict[str, Any]:
    return {
        "resourceType": "PaymentReconciliation",
        "identifier": [{"system": REMITTANCE_SYSTEM, "value": key}],
        "status": "active",
        "created": now,
        "paymentDate": remittance.day or now[:10],
        "paymentAmount": money(remittance.amount, CURRENCY),
        "paymentIdentifier": {"system": f"{REMITTANCE_SYSTEM}:trace", "value": remittance.trace},
        "outcome": "complete",
        "disposition": _("X12 835 from {payer}, interchange {control}").format(
            payer=remittance.payer_name or remittance.payer_id, control=remittance.interchange
        ),
        **({"detail": details} if details else {}),
    }


async def post_remittances(
    store: ResourceStore, policy: AccessPolicy, remittances: list[Remittance], base: str | None
) -> Posted:
    """Write the remittances in one transaction; InvalidRequest naming each CLP whose Claim is unknown."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    entries: list[dict[str, Any]] = []
    problems: list[Issue] = []
    for remittance in remittances:
        key = f"{remittance.payer_id}/{remittance.trace}"
        details = []
        for number, payment in enumerate(remittance.claims, start=1):
            target = await _target(store, policy, payment)
            if isinstance(target, Issue):
                problems.append(target)
                continue
            claim_key, url = f"{key}/{number}", f"urn:uuid:{uuid.uuid4()}"
            entries.append(_create(_claim_response(remittance, payment, target, claim_key, now), claim_key, url))
            details.append(
                {
                    "type": _concept(PAYMENT_TYPE_SYSTEM, "payment"),
                    "request": {"reference": target.claim},
                    "response": {"reference": url},
                    "amount": money(payment.paid, CURRENCY),
                    **({"date": remittance.day} if remittance.day else {}),
                }
            )
            if payment.denied:
                entries.append(_create(_denial_task(payment, target, claim_key, url, now), claim_key))
        entries.insert(0, _create(_reconciliation(remittance, details, key, now), key))
    if problems:
        head = _("The 835 file was refused; nothing was imported. {problem}").format(problem=problems[0].diagnostics)
        raise InvalidRequest(head, issues=problems)
    results = await process_transaction(store, policy, entries, base)
    written = {"PaymentReconciliation": [], "ClaimResponse": [], "Task": []}  # type: dict[str, list[str]]
    created = False
    for result in results:
        if result.record is not None:
            written[result.record.resource_type].append(result.record.reference)
            created = created or result.status.startswith("201")
    return Posted(written["PaymentReconciliation"], written["ClaimResponse"], written["Task"], not created)
