"""Eligibility operations (eligibility.py has the X12 side).

- `POST CoverageEligibilityRequest/[id]/$x12-270`: the 270 file for a stored request
  (`application/edi-x12`, fresh control numbers). The request needs `insurance[0].coverage` (a
  Coverage with the member id and a payer Organization) and a `provider` with an NPI: else 422
  listing every problem.
- `POST CoverageEligibilityResponse/$import-x12-271` with the 271 file as the body (any text
  media type): one CoverageEligibilityResponse per subscriber answer, linked to the request its
  TRN*2 trace names (the request's id, as the 270 sent it). A file naming an unknown request or
  not readable as a 271 is refused whole (400/422, the segment named), nothing written; importing
  the same file again writes nothing new (identifier: the interchange's ISA13 and the trace).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from ... import engine
from ...engine.identity import format_instant, now
from ...errors import FhirError, InvalidRequest, Issue, Unprocessable
from ...i18n import _
from ...rest.body import read_bytes
from ...rest.context import settings_of, store_of
from ...rest.operations.declaration import INSTANCE, TYPE, Operation, OperationCall, Parameter
from ...rest.responses import FhirResponse
from ...storage.database import Database
from ..codes import NPI, PAYER_ID
from ..dates import day_of
from ..references import identifier, reference_of, resolve
from ..search import find
from ..x12.envelope import Parties
from ..x12.segments import X12DataError, element, parse
from .eligibility import Answer, Inquiry, X12FileError, inquiry_file, read_answers
from .operations import X12_MEDIA_TYPE
from .read_claim import person_of

ANSWER_ID = "urn:fhir-server:x12-271"
"""CoverageEligibilityResponse.identifier system: `{ISA13}/{trace}` of the 271 answer it holds."""


def _parties(call: OperationCall) -> Parties:
    settings = settings_of(call.request)
    return Parties(settings.x12_sender_id, settings.x12_receiver_id, settings.x12_usage)


async def x12_270(call: OperationCall) -> Response:
    store = store_of(call.request)
    request = (
        await engine.read_resource(store, call.policy, "CoverageEligibilityRequest", call.resource_id or "")
    ).resource()
    insurances = request.get("insurance") or [{}]
    coverage = await resolve(store, reference_of(insurances[0].get("coverage")), "Coverage") or {}
    payors = [reference_of(p) or "" for p in coverage.get("payor") or []]
    payer = await resolve(store, next((p for p in payors if p.startswith("Organization/")), None), "Organization")
    provider = await resolve(store, reference_of(request.get("provider")), "Organization", "Practitioner")
    issues = []
    if not coverage.get("subscriberId") or payer is None:
        message = _("The request needs a coverage with the member id and a payer Organization.")
        issues.append(Issue("error", "required", message, "CoverageEligibilityRequest.insurance[0].coverage"))
    if identifier(provider, NPI) is None:
        message = _("The request needs a provider with an NPI.")
        issues.append(Issue("error", "required", message, "CoverageEligibilityRequest.provider"))
    if issues:
        raise Unprocessable(issues[0].diagnostics, issues=issues)
    subscriber = await resolve(
        store,
        reference_of(coverage.get("subscriber")) or reference_of(request.get("patient")),
        "Patient",
        "RelatedPerson",
    )
    name = (provider or {}).get("name")
    provider_name = name if isinstance(name, str) else person_of(provider).family
    inquiry = Inquiry(
        trace=str(request["id"]),
        payer_name=str((payer or {}).get("name") or ""),
        payer_id=identifier(payer, PAYER_ID) or str((payer or {}).get("id")),
        provider_name=provider_name,
        provider_npi=identifier(provider, NPI) or "",
        member_id=str(coverage["subscriberId"]),
        subscriber=person_of(subscriber),
        day=day_of(request.get("servicedDate")) or datetime.now(UTC).date(),
    )
    database: Database = call.request.app.state.database
    isa = (await database.x12_control.draw("ISA13"))[0]
    gs = (await database.x12_control.draw("GS06"))[0]
    try:
        text = inquiry_file(inquiry, _parties(call), isa, gs, datetime.now(UTC))
    except X12DataError as exc:
        message = _("A value cannot be written in X12 (it contains a delimiter: * : ^ ~): {value}")
        raise Unprocessable(message.format(value=exc.value)) from None
    return Response(text, media_type=X12_MEDIA_TYPE)


def _response(request: dict[str, Any], answer: Answer, key: str) -> dict[str, Any]:
    items = [
        {"benefit": [{"type": {"text": f"EB01 {b.code}"}, "allowedMoney": {"value": b.amount, "currency": "USD"}}]}
        for b in answer.benefits
        if b.amount is not None
    ]
    insurance: dict[str, Any] = {
        "coverage": (request.get("insurance") or [{}])[0].get("coverage"),
        "inforce": answer.active,
    }
    if items:
        insurance["item"] = [{"category": {"text": "30"}, **item} for item in items]
    plan = next((b.plan for b in answer.benefits if b.plan), "")
    response: dict[str, Any] = {
        "resourceType": "CoverageEligibilityResponse",
        "identifier": [{"system": ANSWER_ID, "value": key}],
        "status": "active",
        "purpose": ["benefits"],
        "patient": request["patient"],
        "created": format_instant(now()),
        "request": {"reference": f"CoverageEligibilityRequest/{request['id']}"},
        "outcome": "error" if answer.rejections else "complete",
        "insurer": request["insurer"],
        "insurance": [insurance],
    }
    if plan:
        response["disposition"] = plan
    if answer.rejections:
        response["error"] = [
            {"code": {"coding": [{"system": "https://x12.org/codes/reject-reason", "code": code}]}}
            for code in answer.rejections
        ]
    return response


async def import_271(call: OperationCall) -> Response:
    store = store_of(call.request)
    call.policy.require("c", "CoverageEligibilityResponse")
    raw = await read_bytes(call.request, settings_of(call.request).max_body_bytes)
    try:
        text = raw.decode("ascii")
        answers = read_answers(text)
        isa13 = element(parse(text)[0], 13)
    except (UnicodeDecodeError, X12FileError) as exc:
        where = f"segment {exc.segment}" if isinstance(exc, X12FileError) and exc.segment else "body"
        raise InvalidRequest(
            _("The 271 cannot be read: {problem}").format(problem=str(exc)), expression=where
        ) from None
    requests, issues = [], []
    for answer in answers:
        try:
            stored = await engine.read_resource(store, call.policy, "CoverageEligibilityRequest", answer.trace)
            requests.append(stored.resource())
        except FhirError:
            message = _("The 271 answers an unknown request: {trace}").format(trace=answer.trace)
            issues.append(Issue("error", "not-found", message, f"segment {answer.segment}"))
    if issues:
        raise Unprocessable(issues[0].diagnostics, issues=issues)
    entries = []
    for request, answer in zip(requests, answers, strict=True):
        key = f"{isa13}/{answer.trace}"
        done = await find(store, call.policy, "CoverageEligibilityResponse", [("identifier", f"{ANSWER_ID}|{key}")], 1)
        resource = done[0] if done else None
        if resource is None:
            result = await engine.create_resource(
                store, call.policy, "CoverageEligibilityResponse", _response(request, answer, key)
            )
            resource = result.record.resource()
        entries.append({"resource": resource})
    return FhirResponse({"resourceType": "Bundle", "type": "collection", "entry": entries})


X12_270 = Operation(
    code="x12-270",
    id="CoverageEligibilityRequest-x12-270",
    title="X12 270 eligibility inquiry",
    description="The X12 270 5010 (005010X279A1) file of a stored CoverageEligibilityRequest.",
    levels=(INSTANCE,),
    resource_types=("CoverageEligibilityRequest",),
    affects_state=True,
    parameters=(Parameter("return", "out", 1, "1", "Binary", "The 270 file (application/edi-x12)."),),
    handler=x12_270,
)

IMPORT_271 = Operation(
    code="import-x12-271",
    id="CoverageEligibilityResponse-import-x12-271",
    title="Import an X12 271 eligibility answer",
    description="The body is a 271 file; each subscriber answer becomes a CoverageEligibilityResponse.",
    levels=(TYPE,),
    resource_types=("CoverageEligibilityResponse",),
    affects_state=True,
    parameters=(Parameter("return", "out", 1, "1", "Bundle", "A collection of the CoverageEligibilityResponses."),),
    handler=import_271,
)

ELIGIBILITY_OPERATIONS: tuple[Operation, ...] = (X12_270, IMPORT_271)
