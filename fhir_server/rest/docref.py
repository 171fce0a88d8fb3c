"""US Core DocumentReference `$docref`. https://hl7.org/fhir/us/core/OperationDefinition-docref.html

Answers a searchset Bundle whose `next` links (GET, with `_cursor`) page through the rest.
"""

from __future__ import annotations

from starlette.responses import Response

from .. import engine
from .bundles import cursor_searchset
from .context import base_url, settings_of, store_of
from .operations.declaration import TYPE, Operation, OperationCall, Parameter
from .operations.parameters import operation_query
from .preconditions import lenient_handling
from .responses import FhirResponse


async def docref(call: OperationCall) -> Response:
    request = call.request
    settings = settings_of(request)
    docref_request = engine.parse_docref_request(
        await operation_query(request),
        default_count=settings.default_page_size,
        max_count=settings.max_page_size,
        strict=not lenient_handling(request),
    )
    base = base_url(request)
    store = store_of(request)
    with store.time_limit(settings.search_time_limit_ms):  # the searches' database time budget
        result = await engine.docref(store, call.policy, docref_request, base_url=base)
    self_url = f"{base}/DocumentReference/$docref"
    return FhirResponse(cursor_searchset(base, self_url, docref_request.echoed, docref_request.cursor, result))


DOCREF = Operation(
    code="docref",
    id="docref",
    url="http://hl7.org/fhir/us/core/OperationDefinition/docref",
    title="US Core Fetch DocumentReference",
    description="The DocumentReferences of a patient for a period, type and profile.",
    levels=(TYPE,),
    resource_types=("DocumentReference",),
    affects_state=False,
    parameters=(
        Parameter("patient", "in", 1, "1", "id", "The id of the patient resource."),
        Parameter("start", "in", 0, "1", "dateTime", "Start of the care period."),
        Parameter("end", "in", 0, "1", "dateTime", "End of the care period."),
        Parameter("type", "in", 0, "*", "Coding", "Document types (system|code)."),
        Parameter("on-demand", "in", 0, "1", "boolean", "Only on-demand documents (none are generated here)."),
        Parameter("profile", "in", 0, "*", "canonical", "Profiles the documents conform to."),
        Parameter("return", "out", 1, "1", "Bundle", "A searchset Bundle of DocumentReferences."),
    ),
    handler=docref,
)
