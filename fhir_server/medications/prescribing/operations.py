"""`MedicationRequest/[id]/$sign` and `MedicationRequest/[id]/$print`, declared operations.

`$sign` (POST, optional Parameters `overrideReason`): only a user of a prescriber role (setting
`prescriber_roles`, default `physician`) whose token names them (`fhirUser` a Practitioner) may sign; others
get 403. A draft is checked and signed (signing.py): 200 with a Parameters of the signed `prescription`, its
`provenance`, each `issue` (DetectedIssue) and the transmission `task` when it goes to a pharmacy. A
high-severity finding without an override reason: 409 with an OperationOutcome naming each finding, the
DetectedIssues contained in it; nothing is written. Signing a signed prescription: 409.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ...engine.read import read_resource
from ...errors import Forbidden, Issue, VersionConflict
from ...i18n import _
from ...rest.context import settings_of, store_of
from ...rest.operations.declaration import INSTANCE, Operation, OperationCall, Parameter
from ...rest.responses import FhirResponse
from ...storage.database import Database
from .knowledge import current_knowledge
from .life_cycle import DRAFT, is_signed
from .parameters import operation_parameters
from .printing import PRINT
from .signing import Signed, sign_prescription

_MAX_REASON = 1000


def _signer(call: OperationCall) -> str:
    roles = {r.strip() for r in settings_of(call.request).prescriber_roles.split(",") if r.strip()}
    user = call.policy.fhir_user or ""
    if call.policy.role not in roles or not user.startswith("Practitioner/"):
        raise Forbidden(_("Only a prescriber ({roles}) signed in as a Practitioner may sign prescriptions.").format(
            roles=", ".join(sorted(roles))))  # fmt: skip
    return user


def _blocked(signed: Signed) -> Response:
    issues = [Issue("error", "business-rule", f.detail, "MedicationRequest").to_json() for f in signed.findings
              if f.blocking]  # fmt: skip
    issues.append(Issue("information", "informational", _("Sign again with an overrideReason to sign over these "
                        "alerts.")).to_json())  # fmt: skip
    outcome = {"resourceType": "OperationOutcome", "contained": signed.issues, "issue": issues}
    return FhirResponse(outcome, status_code=409)


def _parameters(signed: Signed) -> dict[str, Any]:
    parameter: list[dict[str, Any]] = [{"name": "prescription", "resource": signed.request},
                                       {"name": "provenance", "resource": signed.provenance}]  # fmt: skip
    parameter += [{"name": "issue", "resource": issue} for issue in signed.issues]
    if signed.task is not None:
        parameter.append({"name": "task", "resource": signed.task})
    return {"resourceType": "Parameters", "parameter": parameter}


async def sign(call: OperationCall) -> Response:
    query = await operation_parameters(call, "$sign", {"overrideReason"})
    signer = _signer(call)
    store = store_of(call.request)
    stored = await read_resource(store, call.policy, "MedicationRequest", str(call.resource_id))
    current = stored.resource()
    if is_signed(current):
        raise VersionConflict(_("This prescription is already signed."), expression="MedicationRequest.status")
    if current.get("status") != DRAFT:
        raise VersionConflict(_("Only a draft prescription can be signed; this one is {status}.").format(
            status=current.get("status")), expression="MedicationRequest.status")  # fmt: skip
    reasons = [v.strip() for k, v in query if k == "overrideReason" and v.strip()]
    override = reasons[0][:_MAX_REASON] if reasons else None
    database: Database = call.request.app.state.database
    signed = await sign_prescription(current_knowledge(), store, database.prescriber_keys, call.policy, signer,
                                     stored, override)  # fmt: skip
    return _blocked(signed) if signed.blocked else FhirResponse(_parameters(signed))


SIGN = Operation(
    code="sign",
    id="MedicationRequest-sign",
    title="Sign a prescription",
    description=(
        "Run the safety checks (allergy, interaction, duplicate therapy, dose range) on a draft MedicationRequest "
        "and sign it as the calling prescriber: it becomes active, with a Provenance holding a JWS over its "
        "canonical JSON (keys: /.well-known/prescriber-keys.json). High-severity findings block signing unless "
        "an overrideReason is given."
    ),
    levels=(INSTANCE,),
    resource_types=("MedicationRequest",),
    affects_state=True,
    parameters=(
        Parameter("overrideReason", "in", 0, "1", "string", "Why the prescriber signs over high-severity alerts."),
        Parameter("prescription", "out", 1, "1", "MedicationRequest", "The signed prescription."),
        Parameter("provenance", "out", 1, "1", "Provenance", "The signature."),
        Parameter("issue", "out", 0, "*", "DetectedIssue", "What the safety checks found."),
        Parameter("task", "out", 0, "1", "Task", "The transmission to the pharmacy, when one is named."),
    ),
    handler=sign,
)

__all__ = ["PRINT", "SIGN"]
