"""The safety checks as a CDS Hooks 2.0 service. https://cds-hooks.hl7.org/2.0/

`GET /cds-services` (public) lists two services, `rx-safety-order-sign` (hook `order-sign`) and
`rx-safety-order-select` (`order-select`), with the prefetch templates below. `POST /cds-services/{id}`
checks each MedicationRequest of `context.draftOrders` (for order-select: those named in
`context.selections`) against the patient's allergies and active medications and the other draft orders,
and answers cards: one per finding (indicator critical for high severity, warning for moderate, info for
low), with suggestions (remove the drug being ordered; stop an interacting active prescription) and the
override reasons a client may offer.

Data: each prefetch key the client sent is used as given; for a key it left out the service fetches the
template itself: from `fhirServer` with the `fhirAuthorization` bearer token when the request names
another FHIR server, else from this server's store with the caller's access. Deviation from the
specification: callers authenticate with this server's own bearer tokens (auth=smart), not a signed JWT.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ...auth.policy import AccessPolicy
from ...errors import InvalidRequest, ResourceNotFound
from ...fhir_json import loads
from ...i18n import _
from ...rest.access import Policy
from ...rest.context import base_url, store_of
from .checks import Finding, comparable, current_allergies, run_checks
from .knowledge import current_knowledge
from .lookup import find, read_reference
from .medication import UnknownMedication, resolve_medication

router = APIRouter()
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}&status=active,on-hold",
    "statements": "MedicationStatement?patient={{context.patientId}}&status=active",
}
SERVICES = {
    "rx-safety-order-sign": "order-sign",
    "rx-safety-order-select": "order-select",
}
_INDICATOR = {"high": "critical", "moderate": "warning", "low": "info"}
_OVERRIDE_REASONS = [
    {"code": "benefit-outweighs-risk", "system": "urn:fhir-server:cds-override", "display": "Benefit outweighs risk"},
    {"code": "will-monitor", "system": "urn:fhir-server:cds-override", "display": "Patient will be monitored"},
]
_TOKEN = re.compile(r"\{\{context\.(\w+)\}\}")


def _service(service_id: str) -> dict[str, Any]:
    return {
        "hook": SERVICES[service_id],
        "id": service_id,
        "title": _("Prescription safety checks"),
        "description": _(
            "Drug-allergy, drug-drug interaction, duplicate therapy and dose range checks of the "
            "medications being ordered."
        ),  # fmt: skip
        "prefetch": PREFETCH,
    }


@router.get("/cds-services", include_in_schema=False)
async def discovery() -> JSONResponse:
    return JSONResponse({"services": [_service(s) for s in SERVICES]})


def _fill(template: str, context: Mapping[str, Any]) -> str | None:
    missing = [m for m in _TOKEN.findall(template) if not isinstance(context.get(m), str)]
    return None if missing else _TOKEN.sub(lambda m: str(context[m.group(1)]), template)


async def _fetch(request: Request, policy: AccessPolicy, body: Mapping[str, Any], query: str) -> dict[str, Any] | None:
    """A filled prefetch template's result: a resource or a searchset Bundle."""
    server = str(body.get("fhirServer") or "").rstrip("/")
    if server and server != base_url(request):
        authorization = body.get("fhirAuthorization") or {}
        headers = {"Accept": "application/fhir+json"}
        if authorization.get("access_token"):
            headers["Authorization"] = f"Bearer {authorization['access_token']}"
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{server}/{query}", headers=headers)
        return response.json() if response.status_code == 200 else None
    store = store_of(request)
    path, _sep, raw = query.partition("?")
    if not raw:
        return await read_reference(store, path, policy)
    criteria = [tuple(p.split("=", 1)) for p in raw.split("&") if "=" in p]
    found = await find(store, path, [(k, v) for k, v in criteria], 500, policy)
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in found]}


def _resources(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, Mapping):
        return []
    if value.get("resourceType") == "Bundle":
        return [e["resource"] for e in value.get("entry") or [] if isinstance((e or {}).get("resource"), Mapping)]
    return [dict(value)]


def _card(finding: Finding, order: Mapping[str, Any], drug: str, others: Mapping[str, Mapping[str, Any]]
          ) -> dict[str, Any]:  # fmt: skip
    suggestions = [{"label": _("Remove {drug} from the order").format(drug=drug), "uuid": str(uuid.uuid4()),
                    "actions": [{"type": "delete", "description": _("Remove {drug}").format(drug=drug),
                                 "resourceId": f"MedicationRequest/{order.get('id')}"}]}]  # fmt: skip
    for reference in finding.implicated:
        other = others.get(reference)
        if other is not None and other.get("resourceType") == "MedicationRequest":
            suggestions.append({"label": _("Stop the current prescription instead"), "uuid": str(uuid.uuid4()),
                                "actions": [{"type": "update", "description": _("Stop it"),
                                             "resource": {**other, "status": "stopped"}}]})  # fmt: skip
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()), "summary": finding.detail[:140], "detail": finding.detail,
        "indicator": _INDICATOR[finding.severity], "source": {"label": _("Prescribing knowledge base")},
        "suggestions": suggestions, "selectionBehavior": "at-most-one", "overrideReasons": _OVERRIDE_REASONS,
    }  # fmt: skip
    if finding.source and finding.source.startswith("http"):
        card["source"]["url"] = finding.source
    return card


def _orders(body: Mapping[str, Any], hook: str) -> list[dict[str, Any]]:
    context = body.get("context") or {}
    orders = [r for r in _resources(context.get("draftOrders")) if r.get("resourceType") == "MedicationRequest"]
    if hook == "order-select":
        selected = set(context.get("selections") or [])
        orders = [o for o in orders if f"MedicationRequest/{o.get('id')}" in selected]
    return orders


async def _cards(request: Request, policy: AccessPolicy, body: Mapping[str, Any], hook: str) -> list[dict[str, Any]]:
    knowledge, store = current_knowledge(), store_of(request)
    context = body.get("context") or {}
    prefetch = dict(body.get("prefetch") or {})
    for key, template in PREFETCH.items():
        if prefetch.get(key) is None:
            query = _fill(template, context)
            prefetch[key] = await _fetch(request, policy, body, query) if query else None
    current = [*_resources(prefetch.get("medications")), *_resources(prefetch.get("statements"))]
    allergies = current_allergies(_resources(prefetch.get("allergies")))
    orders = _orders(body, hook)
    every = {f"{r.get('resourceType')}/{r.get('id')}": r for r in [*current, *orders]}
    cards = []
    for order in orders:
        reference = f"MedicationRequest/{order.get('id')}"
        try:
            prescribed = await resolve_medication(knowledge, store, order)
        except UnknownMedication:
            continue
        others = await comparable(knowledge, store, [*current, *(o for o in orders if o is not order)], {reference})
        findings = await run_checks(knowledge, store, order, prescribed, others, allergies)
        cards += [_card(f, order, prescribed.display, every) for f in findings]
    return cards


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = loads(await request.body())
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("context"), Mapping):
        raise InvalidRequest(_("A CDS Hooks request is a JSON object with a hook and a context."))
    return body


@router.post("/cds-services/{service_id}", include_in_schema=False)
async def call_service(service_id: str, request: Request, policy: Policy) -> JSONResponse:
    if service_id not in SERVICES:
        raise ResourceNotFound(_("There is no CDS service {id}.").format(id=service_id[:80]))
    body = await _json(request)
    hook = SERVICES[service_id]
    if body.get("hook") != hook:
        raise InvalidRequest(_("The service {id} answers the {hook} hook.").format(id=service_id, hook=hook))
    return JSONResponse({"cards": await _cards(request, policy, body, hook)})
