"""Signing a prescription: the safety checks, then (unless a high-severity finding stands without an
override reason) one transaction holding the signed MedicationRequest (active, tagged signed, linking its
DetectedIssues), the DetectedIssues, a Provenance carrying the signer's JWS over the request's canonical
JSON, and, when it goes to a pharmacy, a Task tracking the transmission (the write rule queues it in the
pharmacy outbox in the same transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...auth.policy import AccessPolicy
from ...engine.bundle import process_bundle
from ...engine.identity import format_instant
from ...errors import Forbidden
from ...i18n import _
from ...storage import ResourceStore, StoredResource
from ...storage.prescriber_keys import PrescriberKeys
from .checks import Finding, detected_issue, run_checks
from .knowledge import Knowledge
from .life_cycle import SIGNED_TAG, signing
from .pharmacy import pharmacy_of
from .signature import AUTHOR_SIGNATURE, SIG_FORMAT, key_of, sign, signature_data
from .validation import check_prescription

TRANSMIT_CODE = {"text": "Transmit prescription to pharmacy"}


@dataclass
class Signed:
    """What one `$sign` produced (`blocked`: findings that stopped it; nothing was written then)."""

    findings: list[Finding]
    issues: list[dict[str, Any]]
    blocked: bool
    request: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    task: dict[str, Any] | None = None


def _signed_body(current: Mapping[str, Any], signer: str, issue_ids: list[str], now: datetime) -> dict[str, Any]:
    body = {k: v for k, v in current.items() if k != "meta"}
    tags = [t for t in ((current.get("meta") or {}).get("tag") or []) if t.get("system") != SIGNED_TAG["system"]]
    body["meta"] = {"tag": [*tags, SIGNED_TAG]}
    body["status"] = "active"
    body.setdefault("authoredOn", format_instant(now))
    body.setdefault("requester", {"reference": signer})
    if issue_ids:
        body["detectedIssue"] = [*(current.get("detectedIssue") or []),
                                 *({"reference": f"DetectedIssue/{i}"} for i in issue_ids)]  # fmt: skip
    return body


def _provenance(target: str, signer: str, token: str, issues: list[str], override: str | None, now: datetime
                ) -> dict[str, Any]:  # fmt: skip
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": uuid.uuid4().hex,
        "target": [{"reference": target}],
        "recorded": format_instant(now),
        "activity": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-DocumentCompletion",
                    "code": "LA",
                    "display": "legally authenticated",
                }
            ]
        },  # fmt: skip
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "author",
                        }
                    ]
                },
                "who": {"reference": signer},
            }
        ],  # fmt: skip
        "signature": [
            {
                "type": [AUTHOR_SIGNATURE],
                "when": format_instant(now),
                "who": {"reference": signer},
                "targetFormat": "application/fhir+json",
                "sigFormat": SIG_FORMAT,
                "data": signature_data(token),
            }
        ],  # fmt: skip
    }
    if issues:
        provenance["entity"] = [{"role": "source", "what": {"reference": f"DetectedIssue/{i}"}} for i in issues]
    if override:
        provenance["reason"] = [{"text": _("Safety alerts overridden: {reason}").format(reason=override)}]
    return provenance


def _task(request: str, patient: str, signer: str, pharmacy: str, now: datetime) -> dict[str, Any]:
    return {
        "resourceType": "Task", "id": uuid.uuid4().hex, "status": "requested", "intent": "order",
        "code": TRANSMIT_CODE, "focus": {"reference": request}, "for": {"reference": patient},
        "authoredOn": format_instant(now), "requester": {"reference": signer}, "owner": {"reference": pharmacy},
    }  # fmt: skip


def _put(resource: dict[str, Any], if_match: int | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    if if_match is not None:
        request["ifMatch"] = f'W/"{if_match}"'
    return {"resource": resource, "request": request}


async def sign_prescription(
    knowledge: Knowledge,
    store: ResourceStore,
    keys: PrescriberKeys,
    policy: AccessPolicy,
    signer: str,
    stored: StoredResource,
    override: str | None,
) -> Signed:
    """Check and sign the draft `stored` as `signer` ("Practitioner/id") under `policy`.

    Raises Unprocessable (an incomplete prescription), Forbidden (another requester), a write's FhirError.
    """
    current = stored.resource()
    requester = (current.get("requester") or {}).get("reference")
    if requester not in (None, signer):
        raise Forbidden(_("Only the requester ({requester}) may sign this prescription.").format(requester=requester))
    prescribed = await check_prescription(knowledge, store, current, complete=True)
    assert prescribed is not None
    findings = await run_checks(knowledge, store, current, prescribed)
    reference, patient = f"MedicationRequest/{stored.id}", current["subject"]["reference"]
    now = datetime.now(UTC)
    blocked = any(f.blocking for f in findings) and not override
    mitigation = (signer, override) if override else None
    issues = [detected_issue(f, reference, patient, now, mitigation if f.blocking else None) for f in findings]
    if blocked:
        return Signed(findings, issues, blocked=True)
    body = _signed_body(current, signer, [i["id"] for i in issues], now)
    token = sign(await key_of(keys, signer), body)
    target = f"{reference}/_history/{stored.version_id + 1}"
    provenance = _provenance(target, signer, token, [i["id"] for i in issues], override, now)
    pharmacy = await pharmacy_of(store, body)
    task = _task(reference, patient, signer, pharmacy.organization, now) if pharmacy else None
    entries = [_put(body, stored.version_id), *map(_put, issues), _put(provenance), *([_put(task)] if task else [])]
    with signing(reference):
        _type, results = await process_bundle(store, policy, {"resourceType": "Bundle", "type": "transaction",
                                                              "entry": entries}, None)  # fmt: skip
    written = [r.record.resource() for r in results if r.record is not None]
    return Signed(findings, written[1 : 1 + len(issues)], False, written[0], written[1 + len(issues)],
                  written[-1] if task else None)  # fmt: skip
