"""`Account/[id]/$balance`: what is owed on an account, in all and by party, from `balance_of`."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ...engine.read import read_resource
from ...rest.context import store_of
from ...rest.operations.declaration import INSTANCE, Operation, OperationCall, Parameter
from ...rest.responses import FhirResponse
from ...storage.billing_ledger import LedgerStore
from .access import require_billing
from .balance import Balance, balance_of
from .money import money


def ledger(call: OperationCall) -> LedgerStore:
    """The ledger of the server's database."""
    store: LedgerStore = call.request.app.state.database.billing_ledger
    return store


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
    require_billing(call.policy, "r", "Account")
    record = await read_resource(store_of(call.request), call.policy, "Account", str(call.resource_id))
    entries = await ledger(call).of_accounts([record.reference])
    return FhirResponse(balance_parameters(balance_of(record.reference, entries)))


BALANCE = Operation(
    code="balance",
    id="Account-balance",
    title="Account balance",
    description=(
        "What is owed on the account: charges − payments − adjustments, exact, in the account's currency, "
        "in all and by party (each payer Organization, the patient). Billing role."
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
