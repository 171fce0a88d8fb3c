"""`PaymentReconciliation/$import-x12-835`: POST the raw 835 file as the body (any text media type).

Answers 200 with a Parameters naming what was written (or, for a file imported before, what had been
written: `alreadyImported` true); 400 with an OperationOutcome listing each problem by line and segment
when the file is not a valid 835, a claim is unknown or amounts do not add up; nothing is written then.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import Response

from ...errors import InvalidRequest
from ...i18n import _
from ...rest.body import read_bytes
from ...rest.context import base_url, settings_of, store_of
from ...rest.operations.declaration import TYPE, Operation, OperationCall, Parameter
from ...rest.responses import FhirResponse
from ...storage.billing_ledger import LedgerStore
from ..accounts.access import require_billing
from .remittance import Posted, post_remittances
from .x12_835 import read_835


def _parameters(posted: Posted) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [{"name": "alreadyImported", "valueBoolean": posted.already}]
    for name, references in (
        ("paymentReconciliation", posted.reconciliations),
        ("claimResponse", posted.responses),
        ("task", posted.tasks),
    ):
        parameters += [{"name": name, "valueReference": {"reference": r}} for r in references]
    return {"resourceType": "Parameters", "parameter": parameters}


async def import_835(call: OperationCall) -> Response:
    for resource_type in ("PaymentReconciliation", "ClaimResponse", "Task"):
        require_billing(call.policy, "c", resource_type)
    raw = await read_bytes(call.request, settings_of(call.request).max_body_bytes)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(_("An X12 835 file is plain ASCII text; this body is not.")) from exc
    if not text.strip():
        raise InvalidRequest(_("The request has no body; the X12 835 file is expected."))
    remittances = await asyncio.to_thread(read_835, text)
    ledger: LedgerStore = call.request.app.state.database.billing_ledger
    posted = await post_remittances(store_of(call.request), ledger, call.policy, remittances, base_url(call.request))
    return FhirResponse(_parameters(posted))


IMPORT_835 = Operation(
    code="import-x12-835",
    id="PaymentReconciliation-import-x12-835",
    title="Import an X12 835 remittance",
    description=(
        "POST the raw X12 835 (005010X221A1) file as the body. It is validated with pyx12, each claim payment "
        "becomes a ClaimResponse (linked to the Claim whose identifier is CLP01) posted to the patient's "
        "Account, the check or EFT a PaymentReconciliation, each denial a Task for the billing office; all in "
        "one transaction, and importing the same file again changes nothing. Billing role."
    ),
    levels=(TYPE,),
    resource_types=("PaymentReconciliation",),
    affects_state=True,
    parameters=(
        Parameter("alreadyImported", "out", 1, "1", "boolean", "True when the file had been imported before."),
        Parameter("paymentReconciliation", "out", 0, "*", "Reference", "The check or EFT."),
        Parameter("claimResponse", "out", 0, "*", "Reference", "One per claim payment."),
        Parameter("task", "out", 0, "*", "Reference", "One per denied claim."),
    ),
    handler=import_835,
)
