"""Patient `$everything`, type and instance level. https://hl7.org/fhir/R4/patient-operation-everything.html

Answers a searchset Bundle whose `next` links (GET, with `_cursor`) page through the rest.
"""

from __future__ import annotations

from starlette.responses import Response

from .. import engine
from .bundles import cursor_searchset
from .context import base_url, settings_of, store_of
from .operations.declaration import INSTANCE, TYPE, Operation, OperationCall, Parameter
from .operations.parameters import operation_query
from .preconditions import lenient_handling
from .responses import FhirResponse


async def everything(call: OperationCall) -> Response:
    """One patient's record (instance level), or those of every patient or of `patient` / `_id`."""
    request, patient_id = call.request, call.resource_id
    settings = settings_of(request)
    everything_request = engine.parse_everything_request(
        patient_id,
        await operation_query(request),
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        strict=not lenient_handling(request),
    )
    store = store_of(request)
    with store.time_limit(settings.search_time_limit_ms):  # the searches' database time budget
        result = await engine.everything(store, call.policy, everything_request)
    base = base_url(request)
    self_url = f"{base}/Patient/{patient_id}/$everything" if patient_id else f"{base}/Patient/$everything"
    bundle = cursor_searchset(base, self_url, everything_request.echoed, everything_request.cursor, result)
    return FhirResponse(bundle)


EVERYTHING = Operation(
    code="everything",
    id="Patient-everything",
    url="http://hl7.org/fhir/OperationDefinition/Patient-everything",
    title="Fetch Patient Record",
    description=(
        "All resources in the patient compartment of one patient (instance level) or of every patient the "
        "caller may see, or of those named by `patient` / `_id` (type level), with the resources they "
        "reference. Not supported: `start`, `end` and `_offset` (refused with 400; paging uses `next` links)."
    ),
    levels=(TYPE, INSTANCE),
    resource_types=("Patient",),
    affects_state=False,
    parameters=(
        Parameter("_since", "in", 0, "1", "instant", "Only resources updated after this instant."),
        Parameter("_type", "in", 0, "*", "code", "Comma-separated resource types to return (default: all)."),
        Parameter("_count", "in", 0, "1", "integer", "Page size; `next` links page through the rest."),
        Parameter(
            "patient", "in", 0, "*", "string", "Type level only: the patients (ids or Patient/id) to return.", (TYPE,)
        ),
        Parameter("return", "out", 1, "1", "Bundle", 'The bundle type is "searchset".'),
    ),
    handler=everything,
)
