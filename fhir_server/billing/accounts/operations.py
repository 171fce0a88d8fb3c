"""`Account/[id]/$balance` (what is owed, from `balance_of`) and `Account/$aging` (A/R by age)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from starlette.responses import Response

from ...engine.read import read_resource
from ...errors import InvalidRequest
from ...i18n import _
from ...rest.context import store_of
from ...rest.operations.declaration import INSTANCE, TYPE, Operation, OperationCall, Parameter
from ...rest.operations.parameters import operation_query
from ...rest.preconditions import lenient_handling
from ...rest.responses import FhirResponse
from ...storage.billing_ledger import LedgerStore
from .access import require_billing
from .aging import BUCKETS, Aged, aging
from .balance import Balance, balance_of
from .money import money


def ledger(call: OperationCall) -> LedgerStore:
    """The ledger of the server's database."""
    store: LedgerStore = call.request.app.state.database.billing_ledger
    return store


async def known_query(call: OperationCall, names: tuple[str, ...]) -> dict[str, str]:
    """The operation's parameters; unless the client asked for lenient handling, an unknown one is a 400."""
    query = await operation_query(call.request)
    unknown = [name for name, _value in query if name not in names]
    if unknown and not lenient_handling(call.request):
        raise InvalidRequest(
            _("Unknown parameter '{name}' for this operation.").format(name=unknown[0]), expression=unknown[0]
        )
    return dict(query)


def balance_parameters(balance: Balance) -> dict[str, Any]:
    """The balance as a Parameters resource (no money parameter while the account has no entries)."""
    parameters: list[dict[str, Any]] = [{"name": "account", "valueReference": {"reference": balance.account}}]
    if balance.currency is not None:
        parameters.append({"name": "balance", "valueMoney": money(balance.amount, balance.currency)})
        for party, amount in sorted(balance.by_party.items()):
            parts = [
                {"name": "party", "valueReference": {"reference": party}},
                {"name": "balance", "valueMoney": money(amount, balance.currency)},
            ]
            parameters.append({"name": "owedBy", "part": parts})
    return {"resourceType": "Parameters", "parameter": parameters}


async def account_balance(call: OperationCall) -> Response:
    require_billing(call.policy, "r", "Account", own=True)
    await known_query(call, ())
    record = await read_resource(store_of(call.request), call.policy, "Account", str(call.resource_id))
    entries = await ledger(call).of_accounts([record.reference])
    return FhirResponse(balance_parameters(balance_of(record.reference, entries)))


BALANCE = Operation(
    code="balance",
    id="Account-balance",
    title="Account balance",
    description=(
        "What is owed on the account: charges − payments − adjustments, exact, in the account's currency, "
        "in all and by party (each payer Organization, the patient). Billing role; a patient for their own."
    ),
    levels=(INSTANCE,),
    resource_types=("Account",),
    affects_state=False,
    parameters=(
        Parameter("account", "out", 1, "1", "Reference", "The account."),
        Parameter("balance", "out", 0, "1", "Money", "The balance (absent while nothing was posted)."),
        Parameter(
            "owedBy",
            "out",
            0,
            "*",
            None,
            "The part each party owes.",
            parts=(
                Parameter("party", "out", 1, "1", "Reference", "A payer Organization or the Patient."),
                Parameter("balance", "out", 1, "1", "Money", "What that party owes."),
            ),
        ),
    ),
    handler=account_balance,
)


def _aged_parameter(aged: Aged) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if aged.group.startswith(("Organization/", "Patient/")):
        parts.append({"name": "party", "valueReference": {"reference": aged.group}})
    else:
        parts.append({"name": "party", "valueString": aged.group})
    parts += [{"name": name, "valueMoney": money(amount, aged.currency)} for name, amount in aged.buckets.items()]
    parts.append({"name": "total", "valueMoney": money(aged.total, aged.currency)})
    return {"name": "group", "part": parts}


async def account_aging(call: OperationCall) -> Response:
    require_billing(call.policy, "s", "Account")
    query = await known_query(call, ("by", "asOf"))
    by = query.get("by", "payer")
    if by not in ("payer", "patient"):
        raise InvalidRequest(_("'by' must be payer or patient."), expression="by")
    try:
        as_of = date.fromisoformat(query["asOf"]) if "asOf" in query else datetime.now(UTC).date()
    except ValueError as exc:
        raise InvalidRequest(_("'asOf' must be a date (YYYY-MM-DD)."), expression="asOf") from exc
    groups = aging(await ledger(call).all(), as_of, by)
    parameters: list[dict[str, Any]] = [
        {"name": "asOf", "valueDate": as_of.isoformat()},
        {"name": "by", "valueCode": by},
        *(_aged_parameter(aged) for aged in groups),
    ]
    return FhirResponse({"resourceType": "Parameters", "parameter": parameters})


_GROUP_PARTS = (
    Parameter("party", "out", 1, "1", "Reference", "The payer, the patient, or the string Patient (patients' share)."),
    *(Parameter(name, "out", 1, "1", "Money", f"Open for {name} days.") for name in BUCKETS),
    Parameter("total", "out", 1, "1", "Money", "All open."),
)

AGING = Operation(
    code="aging",
    id="Account-aging",
    title="Accounts receivable aging",
    description=(
        "Open receivables by age (0-30, 31-60, 61-90, 90+ days from the service day, payments settling the "
        "oldest first), grouped by payer (each payer Organization; 'Patient' for the patients' own share) or "
        "by patient. Exact money. Billing role."
    ),
    levels=(TYPE,),
    resource_types=("Account",),
    affects_state=False,
    parameters=(
        Parameter("by", "in", 0, "1", "code", "payer (default) or patient."),
        Parameter("asOf", "in", 0, "1", "date", "The day ages are counted to (default: today, UTC)."),
        Parameter("group", "out", 0, "*", None, "One per payer or patient and currency.", parts=_GROUP_PARTS),
    ),
    handler=account_aging,
)
