"""What an order message is built from, read through the engine: the ServiceRequest as ordered, its
Patient, requester, ask-at-order-entry answers and specimens, the lab's current Endpoint and the
placer number.

The placer order number is the ServiceRequest's placer identifier (system `urn:hl7v2:placer-order`
or type PLAC); a ServiceRequest without one gets `urn:hl7v2:placer-order|<number>` added, so a
result that names the number (OBR-2) links to it the way `mapping/results.py` looks orders up. The
number is made up short enough for a LIS (`OrderSettings.placer_length`) from the resource id, and
checked against every ServiceRequest before it is used, so it is unique.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from fhir_server.engine import read_resource, read_version, search_type, update_resource
from fhir_server.errors import FhirError, PreconditionFailed, ResourceDeleted, ResourceNotFound
from fhir_server.i18n import _
from fhir_server.search.registry import default_registry
from fhir_server.search.request import parse_search_request
from fhir_server.storage import ResourceStore

from ..access import HL7_POLICY
from ..mapping.orders import PLACER_SYSTEM
from .lab import Lab, LabConfigError, endpoint_references, is_mllp, lab_of
from .message import OrderData, OrderError, OrderSettings

log = logging.getLogger(__name__)

PLACER_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PLAC"}]}


async def _read(store: ResourceStore, reference: str, kind: str) -> dict[str, Any] | None:
    """The current resource a relative reference of type `kind` names; None when absent or of another type."""
    resource_type, _sep, resource_id = reference.partition("/")
    if resource_type != kind or not resource_id or "/" in resource_id:
        return None
    try:
        return (await read_resource(store, HL7_POLICY, resource_type, resource_id)).resource()
    except FhirError:
        return None


async def current_lab(store: ResourceStore, organization: str) -> Lab:
    """The lab's connection as its Organization and Endpoint say now. Raises LabConfigError."""
    body = await _read(store, organization, "Organization")
    if body is None:
        raise LabConfigError(_("{organization} no longer exists.").format(organization=organization))
    for reference in endpoint_references(body):
        endpoint = await _read(store, reference, "Endpoint")
        if endpoint is not None and is_mllp(endpoint):
            return lab_of(organization, reference, endpoint)
    raise LabConfigError(_("{organization} has no active MLLP Endpoint any more.").format(organization=organization))


async def gather_order(store: ResourceStore, service_request: str, version: int) -> OrderData:
    """The resources of the order as it was in `version`. Raises OrderError when there is no Patient."""
    resource_id = service_request.partition("/")[2]
    try:
        request = (await read_version(store, HL7_POLICY, "ServiceRequest", resource_id, str(version))).resource()
    except (ResourceNotFound, ResourceDeleted) as exc:
        raise OrderError(str(exc)) from exc
    subject = str((request.get("subject") or {}).get("reference", ""))
    patient = await _read(store, subject, "Patient")
    if patient is None:
        raise OrderError(
            _("ServiceRequest.subject '{subject}' is not a Patient of this server.").format(subject=subject)
        )
    requester = await _read(store, str((request.get("requester") or {}).get("reference", "")), "Practitioner")
    answers = []
    for info in request.get("supportingInfo") or ():
        observation = await _read(store, str((info or {}).get("reference", "")), "Observation")
        if observation is not None:
            answers.append(observation)
    specimens = []
    for reference in request.get("specimen") or ():
        specimen = await _read(store, str((reference or {}).get("reference", "")), "Specimen")
        if specimen is not None:
            specimens.append(specimen)
    diagnoses = [c for c in request.get("reasonCode") or () if c]
    for reason in request.get("reasonReference") or ():
        condition = await _read(store, str((reason or {}).get("reference", "")), "Condition")
        if condition is not None and condition.get("code"):
            diagnoses.append(condition["code"])
    coverages = []
    for insurance in request.get("insurance") or ():
        coverage = await _read(store, str((insurance or {}).get("reference", "")), "Coverage")
        if coverage is not None:
            payors = [str((p or {}).get("reference", "")) for p in coverage.get("payor") or ()]
            coverages.append((coverage, await _read(store, payors[0], "Organization") if payors else None))
    return OrderData(request, patient, requester, answers, specimens, diagnoses, coverages)


async def request_version(store: ResourceStore, service_request: str, version: int) -> dict[str, Any] | None:
    """One version of the ServiceRequest ("ServiceRequest/id"); None when it is gone or was a deletion."""
    resource_id = service_request.partition("/")[2]
    try:
        return (await read_version(store, HL7_POLICY, "ServiceRequest", resource_id, str(version))).resource()
    except FhirError:
        return None


async def patient_of(store: ResourceStore, service_request: str, version: int) -> str | None:
    """The `Patient/id` the order was for (None when that version is gone or names no Patient)."""
    request = await request_version(store, service_request, version)
    subject = str(((request or {}).get("subject") or {}).get("reference", ""))
    return subject if subject.startswith("Patient/") else None


async def placer_of(
    store: ResourceStore, request: dict[str, Any], settings: OrderSettings
) -> tuple[dict[str, Any], bool]:
    """The placer identifier, and whether it is new (`new_placer`)."""
    identifiers = [i for i in request.get("identifier") or () if i.get("value")]
    for identifier in identifiers:
        if identifier.get("system") == PLACER_SYSTEM:
            return identifier, False
    for identifier in identifiers:
        codes = {c.get("code") for c in (identifier.get("type") or {}).get("coding") or ()}
        if "PLAC" in codes:
            return identifier, False
    return {"system": PLACER_SYSTEM, "value": await new_placer(store, str(request["id"]), settings.placer_length)}, True


BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def placer_candidate(resource_id: str, length: int, attempt: int) -> str:
    """A placer number of `length` letters and digits drawn from the resource id (another one per attempt)."""
    number = int.from_bytes(hashlib.sha256(f"{resource_id}:{attempt}".encode()).digest(), "big")
    digits: list[str] = []
    while len(digits) < length:
        number, digit = divmod(number, 36)
        digits.append(BASE36[digit])
    return "".join(digits)


async def new_placer(store: ResourceStore, resource_id: str, length: int) -> str:
    """The first candidate no ServiceRequest carries yet as its placer number (the resource id itself when it
    fits and is free). A candidate is 15 of 36 symbols by default (77 bits): a clash is rare, and skipped."""
    candidates = [resource_id] if len(resource_id) <= length else []
    candidates += [placer_candidate(resource_id, length, attempt) for attempt in range(20)]
    for candidate in candidates:
        query = [("identifier", f"{PLACER_SYSTEM}|{candidate}"), ("_count", "1"), ("_total", "none")]
        request = parse_search_request(
            "ServiceRequest", query, default_registry(), default_count=1, max_count=1, strict=True
        )
        found = (await search_type(store, HL7_POLICY, request)).page.records
        if not found or found[0].id == resource_id:
            return candidate
    raise OrderError(_("No free placer order number of {length} characters was found.").format(length=length))


async def record_placer(store: ResourceStore, service_request: str, placer: dict[str, Any]) -> None:
    """Add the placer identifier to the current ServiceRequest (guarded by its version; a few tries)."""
    resource_id = service_request.partition("/")[2]
    for _attempt in range(5):
        try:
            current = await read_resource(store, HL7_POLICY, "ServiceRequest", resource_id)
        except FhirError:
            return  # deleted meanwhile: nothing to link results to
        body = current.resource()
        identifiers = list(body.get("identifier") or ())
        if any(i.get("system") == placer["system"] and i.get("value") == placer["value"] for i in identifiers):
            return
        body["identifier"] = [*identifiers, {**placer, "type": PLACER_TYPE}]
        try:
            await update_resource(store, HL7_POLICY, "ServiceRequest", resource_id, body, if_match=current.version_id)
            return
        except PreconditionFailed:
            continue
        except FhirError as exc:  # e.g. a stored resource that no longer validates: send the order anyway
            log.warning(
                "placer number not recorded on the order", extra={"reference": service_request, "problem": str(exc)}
            )
            return
    log.warning("placer number not recorded on the order", extra={"reference": service_request})
