"""Posting an 835: its remittances become one transaction of FHIR resources, all or nothing.

Per transaction set: a PaymentReconciliation (the check or EFT: BPR amount and date, TRN trace), per
claim payment (CLP) a ClaimResponse linked to the Claim whose identifier (or id) is the patient control
number CLP01, carrying the Account it posts to (the patient's active Account, the one listing the
Claim's coverage first), and per denied claim (CLP02 = 4) a Task for the billing office. The write
rules post the ClaimResponses to the ledger in the same transaction (accounts/rules.py).

Idempotent: a remittance (payer id / trace number, TRN03/TRN02) found imported is not written again,
and a write rule (rules.py) refuses a second PaymentReconciliation for it, so of two imports of the same
file at once one writes and the other answers what the first wrote. Claims are read by id (a
patient control number that is a Claim's id), else searched by identifier; Accounts are read by the ids
the ledger knows for the patient, else searched; then everything is written in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ...auth.policy import AccessPolicy
from ...engine.bundle.transaction import process_transaction
from ...engine.read import visible
from ...engine.search import search_type
from ...errors import InvalidRequest, Issue
from ...i18n import _
from ...search.registry import default_registry
from ...search.request import SearchRequest, parse_search_request
from ...storage import ResourceStore, StoredResource
from ...storage.billing_ledger import LedgerStore
from ..accounts.money import money
from ..accounts.postings import ACCOUNT_EXTENSION, CARC_SYSTEM, CAS_GROUP_SYSTEM, PAYMENT_TYPE_SYSTEM, RARC_SYSTEM
from .rules import REMITTANCE_SYSTEM, AlreadyImported
from .x12_835 import Adjustment, ClaimPayment, Remittance

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


def _escaped(value: str) -> str:
    """A search value with the characters search syntax reserves escaped (R4 search.html#escaping)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("|", "\\|").replace("$", "\\$")


def _id_like(value: str) -> bool:
    return 0 < len(value) <= 64 and value.replace("-", "").replace(".", "").isalnum()


async def _readable(store: ResourceStore, policy: AccessPolicy, references: list[str]) -> list[StoredResource]:
    """The current resources `references` names that exist and `policy` may read (one database read)."""
    records = await store.get_many(references) if references else []
    return [record for record in records if await visible(store, policy, record)]


async def _claims(store: ResourceStore, policy: AccessPolicy, controls: list[str]) -> dict[str, list[StoredResource]]:
    """The Claim of each patient control number: the Claim with that id (an 837 may send the id as CLM01),
    else those with that identifier."""
    policy.require("r", "Claim")
    by_id = {r.id: r for r in await _readable(store, policy, [f"Claim/{c}" for c in controls if _id_like(c)])}
    found: dict[str, list[StoredResource]] = {}
    for control in controls:
        found[control] = [by_id[control]] if control in by_id else []
        if not found[control]:
            found[control] = await _find(store, policy, "Claim", [("identifier", _escaped(control))], 2)
    return found


async def _accounts(
    store: ResourceStore, policy: AccessPolicy, ledger: LedgerStore, patients: list[str]
) -> dict[str, list[StoredResource]]:
    """The active Accounts of each patient: those the ledger knows (read by id), else a search."""
    policy.require("r", "Account")
    posted = await ledger.accounts_of(patients)
    records = await _readable(store, policy, sorted({a for accounts in posted.values() for a in accounts}))
    active = {r.reference: r for r in records if r.resource().get("status") == "active"}
    found: dict[str, list[StoredResource]] = {}
    for patient in patients:
        found[patient] = [active[a] for a in sorted(posted[patient]) if a in active]
        if not found[patient]:
            criteria = [("subject", patient), ("status", "active")]
            found[patient] = await _find(store, policy, "Account", criteria, 20)
    return found


def _unknown(claim: ClaimPayment, text: str) -> Issue:
    where = _("line {line}, segment {segment}").format(line=claim.line, segment="CLP")
    return Issue("error", "not-found", f"{where}: {text}")


def _covers(account: StoredResource, claim: dict[str, Any]) -> bool:
    coverages = {i.get("coverage", {}).get("reference") for i in claim.get("insurance", [])}
    return any(c.get("coverage", {}).get("reference") in coverages for c in account.resource().get("coverage", []))


async def _targets(
    store: ResourceStore, policy: AccessPolicy, ledger: LedgerStore, payments: list[ClaimPayment]
) -> list[ClaimTarget | Issue]:
    """For each CLP, the Claim it pays and the account it posts to, or the problem (for the 400)."""
    claims = await _claims(store, policy, sorted({p.control for p in payments}))
    patients = {
        str(r.resource().get("patient", {}).get("reference"))
        for records in claims.values()
        if len(records) == 1
        for r in records
    }
    accounts = await _accounts(store, policy, ledger, sorted(p for p in patients if p.startswith("Patient/")))
    targets: list[ClaimTarget | Issue] = []
    for payment in payments:
        found = claims[payment.control]
        if len(found) != 1:
            message = _("no Claim has the patient control number {claim} (CLP01).").format(claim=payment.control)
            targets.append(_unknown(payment, message))
            continue
        claim = found[0].resource()
        patient = (claim.get("patient") or {}).get("reference")
        insurer = (claim.get("insurer") or {}).get("reference")
        if not isinstance(patient, str) or not isinstance(insurer, str):
            targets.append(
                _unknown(payment, _("Claim {claim} has no patient or insurer.").format(claim=found[0].reference))
            )
            continue
        own = accounts.get(patient, [])
        if not own:
            targets.append(_unknown(payment, _("{patient} has no active Account to post to.").format(patient=patient)))
            continue
        account = next((a for a in own if _covers(a, claim)), own[0])
        targets.append(ClaimTarget(found[0].reference, patient, insurer, account.reference))
    return targets


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


def _create(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    if full_url:
        entry["fullUrl"] = full_url
    return entry


@dataclass
class Posted:
    """What an import wrote (or found written by an earlier import: `already`)."""

    reconciliations: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    already: bool = True
    keys: set[str] = field(default_factory=set)
    """The remittance keys found imported."""

    def add(self, other: Posted) -> Posted:
        return Posted(
            self.reconciliations + other.reconciliations,
            self.responses + other.responses,
            self.tasks + other.tasks,
            self.already and other.already,
            self.keys | other.keys,
        )


def _key(remittance: Remittance) -> str:
    return f"{remittance.payer_id}/{remittance.trace}"


async def _imported(store: ResourceStore, policy: AccessPolicy, remittances: list[Remittance]) -> Posted:
    """What earlier imports of these remittances wrote (nothing when none was imported)."""
    posted = Posted()
    for remittance in remittances:
        key = _key(remittance)
        criteria = [("identifier", f"{REMITTANCE_SYSTEM}|{_escaped(key)}")]
        found = await _find(store, policy, "PaymentReconciliation", criteria, 2)
        if not found:
            continue
        details = [d for record in found for d in record.resource().get("detail", [])]
        tasks: list[StoredResource] = []
        for number, payment in enumerate(remittance.claims, start=1):
            if payment.denied:
                criteria = [("identifier", f"{REMITTANCE_SYSTEM}|{_escaped(f'{key}/{number}')}")]
                tasks += await _find(store, policy, "Task", criteria, 2)
        responses = [str(d["response"]["reference"]) for d in details if "reference" in d.get("response", {})]
        found_tasks = [t.reference for t in tasks]
        posted = posted.add(Posted([r.reference for r in found], responses, found_tasks, True, {key}))
    return posted


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
    store: ResourceStore, ledger: LedgerStore, policy: AccessPolicy, remittances: list[Remittance], base: str | None
) -> Posted:
    """Write the remittances not imported before in one transaction; InvalidRequest naming each CLP whose
    Claim or Account is unknown (then nothing is written)."""
    before = await _imported(store, policy, remittances)
    fresh = [remittance for remittance in remittances if _key(remittance) not in before.keys]
    if not fresh:
        return before
    targets = await _targets(store, policy, ledger, [payment for remittance in fresh for payment in remittance.claims])
    problems = [target for target in targets if isinstance(target, Issue)]
    if problems:
        head = _("The 835 file was refused; nothing was imported. {problem}").format(problem=problems[0].diagnostics)
        raise InvalidRequest(head, issues=problems)
    entries = _entries(fresh, iter(t for t in targets if isinstance(t, ClaimTarget)))
    try:
        results = await process_transaction(store, policy, entries, base)
    except AlreadyImported:  # an import of the same file committed first
        return await _imported(store, policy, remittances)
    written: dict[str, list[str]] = {"PaymentReconciliation": [], "ClaimResponse": [], "Task": []}
    for result in results:
        if result.record is not None:
            written[result.record.resource_type].append(result.record.reference)
    posted = Posted(written["PaymentReconciliation"], written["ClaimResponse"], written["Task"], False)
    return before.add(posted)


def _entries(remittances: list[Remittance], targets: Iterator[ClaimTarget]) -> list[dict[str, Any]]:
    """The transaction's entries: per remittance its PaymentReconciliation, ClaimResponses and Tasks."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    entries: list[dict[str, Any]] = []
    for remittance in remittances:
        key = _key(remittance)
        details, claim_entries = [], []
        for number, payment in enumerate(remittance.claims, start=1):
            target = next(targets)
            claim_key, url = f"{key}/{number}", f"urn:uuid:{uuid.uuid4()}"
            claim_entries.append(_create(_claim_response(remittance, payment, target, claim_key, now), url))
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
                claim_entries.append(_create(_denial_task(payment, target, claim_key, url, now)))
        entries += [_create(_reconciliation(remittance, details, key, now)), *claim_entries]
    return entries
