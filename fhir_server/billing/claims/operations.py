"""The claims-out operations.

- `POST Encounter/[id]/$claim`: assemble the professional Claim of a visit (assemble.py), check it
  (checks.py: 422 with one OperationOutcome listing every problem, each with its FHIRPath, nothing
  written) and queue it: stored with status `active` (201 with the Claim).
- `POST Claim/$export-x12` with one or more `claim` references: one 837P 5010 batch file
  (`application/edi-x12`) for the clearinghouse, with fresh ISA13/GS06 control numbers. Every claim
  is checked again (a provider or coverage may have changed since it was queued): 422 listing every
  problem, per claim, and no control number is drawn.
- `GET|POST Claim/[id]/$cms1500`: the same claim as a CMS-1500 PDF for paper billing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response

from ... import engine
from ...errors import InvalidRequest, Issue, Unprocessable
from ...i18n import _
from ...rest.context import base_url, settings_of, store_of
from ...rest.operations.declaration import INSTANCE, TYPE, Operation, OperationCall, Parameter
from ...rest.operations.parameters import operation_query
from ...rest.preconditions import lenient_handling
from ...rest.responses import FhirResponse
from ...storage import ResourceStore
from ...storage.database import Database
from ..x12.envelope import Parties
from ..x12.segments import X12DataError
from .assemble import assemble_claim
from .checks import claim_problems, is_professional
from .cms1500 import cms1500_pdf
from .professional import ProfessionalClaim
from .read_claim import read_professional_claim
from .x837 import batch_file

MAX_CLAIMS_PER_FILE = 5000
X12_MEDIA_TYPE = "application/edi-x12"


def _refuse(issues: list[Issue]) -> Unprocessable:
    return Unprocessable(issues[0].diagnostics, issues=issues)


async def claim_for_encounter(call: OperationCall) -> Response:
    store = store_of(call.request)
    call.policy.require("c", "Claim")
    encounter = (await engine.read_resource(store, call.policy, "Encounter", call.resource_id or "")).resource()
    claim = await assemble_claim(store, call.policy, encounter)
    issues = await claim_problems(store, claim)
    if issues:
        raise _refuse(issues)
    result = await engine.create_resource(store, call.policy, "Claim", claim)
    location = f"{base_url(call.request)}/Claim/{result.record.id}/_history/{result.record.version_id}"
    return FhirResponse(result.record.body, status_code=201, headers={"Location": location})


async def _checked(store: ResourceStore, call: OperationCall, reference: str, position: int) -> ProfessionalClaim:
    where = f"Parameters.parameter[{position}]"
    if not reference.startswith("Claim/") or reference.count("/") != 1:
        raise InvalidRequest(_("'claim' must reference a Claim (Claim/id)."), expression=where)
    claim = (await engine.read_resource(store, call.policy, "Claim", reference.split("/", 1)[1])).resource()
    if claim.get("status") != "active" or not is_professional(claim):
        raise Unprocessable(_("{claim} is not an active professional claim.").format(claim=reference), expression=where)
    issues = await claim_problems(store, claim)
    if issues:
        raise _refuse([Issue(i.severity, i.code, f"{reference}: {i.diagnostics}", i.expression) for i in issues])
    return await read_professional_claim(store, claim)


def _x12_error(exc: X12DataError) -> Unprocessable:
    message = _("A value cannot be written in X12 (it contains a delimiter: * : ^ ~): {value}")
    return Unprocessable(message.format(value=exc.value))


async def export_x12(call: OperationCall) -> Response:
    store = store_of(call.request)
    call.policy.require("r", "Claim")
    wanted = [(n, value) for n, (name, value) in enumerate(await operation_query(call.request)) if name == "claim"]
    if not wanted:
        raise InvalidRequest(_("Name at least one claim to export."), expression="Parameters.parameter")
    if len(wanted) > MAX_CLAIMS_PER_FILE:
        raise InvalidRequest(_("At most 5000 claims go in one file."), expression="Parameters.parameter")
    if len({value for _n, value in wanted}) != len(wanted):
        raise InvalidRequest(_("A claim is named twice."), expression="Parameters.parameter")
    claims = []
    problems: list[Issue] = []
    for position, reference in wanted:
        try:
            claims.append(await _checked(store, call, reference, position))
        except Unprocessable as exc:
            problems.extend(exc.issues)
    if problems:
        raise _refuse(problems)
    settings = settings_of(call.request)
    database: Database = call.request.app.state.database
    parties = Parties(settings.x12_sender_id, settings.x12_receiver_id, settings.x12_usage)
    try:
        isa = (await database.x12_control.draw("ISA13"))[0]
        gs = (await database.x12_control.draw("GS06"))[0]
        text = batch_file(claims, parties=parties, interchange_control=isa, group_control=gs, moment=datetime.now(UTC))
    except X12DataError as exc:
        raise _x12_error(exc) from None
    disposition = f'attachment; filename="837P-{isa:09d}.x12"'
    return Response(text, media_type=X12_MEDIA_TYPE, headers={"Content-Disposition": disposition})


async def cms1500(call: OperationCall) -> Response:
    store = store_of(call.request)
    unknown = [name for name, _value in await operation_query(call.request)]
    if unknown and not lenient_handling(call.request):
        message = _("Unknown parameter '{name}': this operation takes none.")
        raise InvalidRequest(message.format(name=unknown[0]), expression=unknown[0])
    claim = await _checked(store, call, f"Claim/{call.resource_id}", 0)
    disposition = f'inline; filename="CMS-1500-{call.resource_id}.pdf"'
    return Response(cms1500_pdf(claim), media_type="application/pdf", headers={"Content-Disposition": disposition})


CLAIM_FOR_ENCOUNTER = Operation(
    code="claim",
    id="Encounter-claim",
    title="Assemble and queue the professional claim of a visit",
    description="A Claim from the encounter's charges, diagnoses, providers, place of service and coverage; "
    "refused with every problem listed when it cannot be sent.",
    levels=(INSTANCE,),
    resource_types=("Encounter",),
    affects_state=True,
    parameters=(Parameter("return", "out", 1, "1", "Claim", "The queued Claim."),),
    handler=claim_for_encounter,
)

EXPORT_X12 = Operation(
    code="export-x12",
    id="Claim-export-x12",
    title="X12 837P batch file",
    description="One X12 837P 5010 (005010X222A1) file of the named claims for a clearinghouse, "
    "with interchange and group control numbers never used before.",
    levels=(TYPE,),
    resource_types=("Claim",),
    affects_state=True,
    parameters=(
        Parameter("claim", "in", 1, "*", "Reference", "The active professional Claims to send."),
        Parameter("return", "out", 1, "1", "Binary", "The 837P file (application/edi-x12)."),
    ),
    handler=export_x12,
)

CMS1500 = Operation(
    code="cms1500",
    id="Claim-cms1500",
    title="CMS-1500 paper claim",
    description="The claim on a CMS-1500 layout as a PDF.",
    levels=(INSTANCE,),
    resource_types=("Claim",),
    affects_state=False,
    parameters=(Parameter("return", "out", 1, "1", "Binary", "The PDF (application/pdf)."),),
    handler=cms1500,
)

CLAIM_OPERATIONS: tuple[Operation, ...] = (CLAIM_FOR_ENCOUNTER, EXPORT_X12, CMS1500)
