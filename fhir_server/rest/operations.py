"""FHIR operations: Patient $everything and US Core DocumentReference $docref.

https://hl7.org/fhir/R4/operations.html. Each is invoked by GET with URL parameters or by POST
with a Parameters resource (URL parameters, if any, count too). Both answer with a searchset
Bundle whose `next` links (GET, with `_cursor`) page through the rest.

These routes come before `read` and the compartment search (`/{type}/{id}/{type}`), which
would otherwise take `$everything` for an id or a resource type.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from .. import engine
from ..auth.policy import AccessPolicy
from ..errors import InvalidRequest, ResourceNotFound
from ..i18n import _
from .access import Policy
from .body import check_media_type, parse_body, read_bytes
from .bundles import searchset_bundle
from .context import base_url, settings_of, store_of
from .preconditions import strict_handling
from .responses import FhirResponse

router = APIRouter()

_SCALARS = (
    "valueString", "valueCode", "valueId", "valueUri", "valueCanonical", "valueUrl", "valueInstant",
    "valueDateTime", "valueDate", "valueInteger", "valuePositiveInt", "valueUnsignedInt", "valueBoolean",
)  # fmt: skip


def _parameter_value(parameter: dict[str, Any], position: int) -> str:
    """A Parameters.parameter value as it would be written in a URL."""
    for key in _SCALARS:
        if key in parameter:
            value = parameter[key]
            return str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(parameter.get("valueCoding"), dict):
        coding = parameter["valueCoding"]
        system, code = coding.get("system"), coding.get("code")
        return f"{system}|{code}" if system else str(code or "")
    if isinstance(parameter.get("valueReference"), dict):
        return str(parameter["valueReference"].get("reference", ""))
    raise InvalidRequest(
        _("Parameter '{name}' has no value of a type this operation takes.").format(name=parameter.get("name")),
        expression=f"Parameters.parameter[{position}]",
    )


async def _operation_query(request: Request) -> list[tuple[str, str]]:
    """The URL parameters, and for a POST those of the Parameters resource in the body."""
    query = list(request.query_params.multi_items())
    if request.method != "POST":
        return query
    raw = await read_bytes(request, settings_of(request).max_body_bytes)
    if not raw.strip():
        return query
    body = parse_body(raw, check_media_type(request))
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest(_("An operation takes a Parameters resource in the body."), expression="resourceType")
    parameters = body.get("parameter") or []
    if not isinstance(parameters, list):
        raise InvalidRequest(_("'parameter' must be a list."), expression="Parameters.parameter")
    for position, parameter in enumerate(parameters):
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise InvalidRequest(_("Each parameter needs a 'name'."), expression=f"Parameters.parameter[{position}]")
        query.append((parameter["name"], _parameter_value(parameter, position)))
    return query


async def _everything(request: Request, policy: AccessPolicy, patient_id: str | None) -> Response:
    settings = settings_of(request)
    everything_request = engine.parse_everything_request(
        patient_id,
        await _operation_query(request),
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        strict=strict_handling(request),
    )
    result = await engine.everything(store_of(request), policy, everything_request)
    base = base_url(request)
    self_url = f"{base}/Patient/{patient_id}/$everything" if patient_id else f"{base}/Patient/$everything"
    bundle = searchset_bundle(
        base,
        self_url,
        everything_request.echoed,
        ("_cursor", everything_request.cursor, result.page.next_cursor),
        result.page,
        included=result.included,
        warnings=result.warnings,
    )
    return FhirResponse(bundle)


@router.get("/Patient/$everything", name="operation-patient-everything")
@router.post("/Patient/$everything", name="operation-patient-everything-post")
async def patient_everything_type(request: Request, policy: Policy) -> Response:
    """All patients' records, or those of the patients named by `patient` / `_id`."""
    return await _everything(request, policy, None)


@router.get("/{resource_type}/{resource_id}/$everything", name="operation-patient-everything-instance")
@router.post("/{resource_type}/{resource_id}/$everything", name="operation-patient-everything-instance-post")
async def patient_everything(resource_type: str, resource_id: str, request: Request, policy: Policy) -> Response:
    """One patient's record; $everything on other types (Encounter ...) is not supported."""
    engine.check_resource_type(resource_type)
    if resource_type != "Patient":
        raise ResourceNotFound(_("The operation $everything is not supported on {type}.").format(type=resource_type))
    return await _everything(request, policy, resource_id)


@router.get("/DocumentReference/$docref", name="operation-docref")
@router.post("/DocumentReference/$docref", name="operation-docref-post")
async def document_reference_docref(request: Request, policy: Policy) -> Response:
    settings = settings_of(request)
    docref_request = engine.parse_docref_request(
        await _operation_query(request),
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        strict=strict_handling(request),
    )
    base = base_url(request)
    result = await engine.docref(store_of(request), policy, docref_request, base_url=base)
    bundle = searchset_bundle(
        base,
        f"{base}/DocumentReference/$docref",
        docref_request.echoed,
        ("_cursor", docref_request.cursor, result.page.next_cursor),
        result.page,
        included=result.included,
        warnings=result.warnings,
    )
    return FhirResponse(bundle)
