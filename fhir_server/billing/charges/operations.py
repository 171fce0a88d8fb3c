"""`POST Encounter/[id]/$charge`: add or change a line of a visit's fee sheet, priced by the server.

Parameters: `code` (a token, `system|code` or `code`: a code the fee schedule prices on the visit's
day), `units` (a decimal > 0, default 1), and `chargeItem` (a Reference: the line to change; without
it a new line is added). The price is the schedule's at the patient's coverage level times the
units (capture.py's pricing, so a hand-added line is priced like a captured one); the page never
does arithmetic on money. Modifiers and diagnosis pointers carry no price: the page writes them to
the ChargeItem directly. A code the schedule does not price, bad units or a line of another visit:
4xx naming the parameter, nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import Response

from ... import engine
from ...engine.identity import format_instant, now
from ...errors import InvalidRequest, Unprocessable
from ...i18n import _
from ...rest.context import store_of
from ...rest.operations.declaration import INSTANCE, Operation, OperationCall, Parameter
from ...rest.operations.parameters import operation_query
from ...rest.responses import FhirResponse
from ..dates import day_of
from ..references import reference_of
from ..search import find
from .capture import price_fields, primary_payer
from .fee_schedule import price_of

MAX_UNITS = Decimal(999)


def _one(query: Sequence[tuple[str, str]], name: str) -> tuple[int, str] | None:
    found = [(position, value) for position, (key, value) in enumerate(query) if key == name]
    if len(found) > 1:
        raise InvalidRequest(_("Parameter '{name}' is given twice.").format(name=name), expression=name)
    return found[0] if found else None


def _units(query: Sequence[tuple[str, str]]) -> Decimal:
    given = _one(query, "units")
    if given is None:
        return Decimal(1)
    try:
        units = Decimal(given[1])
    except InvalidOperation:
        units = Decimal(-1)
    if not units.is_finite() or units <= 0 or units > MAX_UNITS:
        raise InvalidRequest(_("Units must be a number above 0 and at most 999."), expression="units")
    return units


def _coding(query: Sequence[tuple[str, str]]) -> dict[str, Any]:
    given = _one(query, "code")
    if given is None or not given[1].strip("|"):
        raise InvalidRequest(_("Name the code to charge."), expression="code")
    system, _bar, code = given[1].rpartition("|")
    return {"system": system, "code": code} if system else {"code": code}


async def charge_line(call: OperationCall) -> Response:
    store = store_of(call.request)
    call.policy.require("c", "ChargeItem")
    encounter = (await engine.read_resource(store, call.policy, "Encounter", call.resource_id or "")).resource()
    query = await operation_query(call.request)
    coding, units = _coding(query), _units(query)
    patient = reference_of(encounter.get("subject")) or ""
    day = day_of((encounter.get("period") or {}).get("start")) or now().date()

    async def search(resource_type: str, criteria: Sequence[tuple[str, str]], limit: int) -> list[dict[str, Any]]:
        return await find(store, call.policy, resource_type, criteria, limit)

    priced = await price_of(search, [coding], day, await primary_payer(search, patient, day))
    if priced is None:
        message = _("The fee schedule has no price for {code} on the day of the visit.")
        raise Unprocessable(message.format(code=coding["code"]), expression="code")
    encounter_reference = f"Encounter/{encounter['id']}"
    line = _one(query, "chargeItem")
    if line is not None:
        charge_id = line[1].removeprefix("ChargeItem/")
        charge = (await engine.read_resource(store, call.policy, "ChargeItem", charge_id)).resource()
        if reference_of(charge.get("context")) != encounter_reference:
            raise InvalidRequest(_("That charge belongs to another visit."), expression="chargeItem")
    else:
        accounts = await search("Account", [("subject", patient), ("status", "active")], 1)
        if not accounts:
            raise Unprocessable(_("The patient has no account yet: finish the visit first."), expression="Encounter")
        charge = {
            "resourceType": "ChargeItem",
            "status": "billable",
            "subject": {"reference": patient},
            "context": {"reference": encounter_reference},
            "occurrenceDateTime": day.isoformat(),
            "enteredDate": format_instant(now()),
            "account": [{"reference": f"Account/{accounts[0]['id']}"}],
        }
    charge.update({"code": {"coding": [priced.coding]}, "quantity": {"value": units}, **price_fields(priced, units)})
    if line is not None:
        result = await engine.update_resource(store, call.policy, "ChargeItem", charge["id"], charge)
    else:
        result = await engine.create_resource(store, call.policy, "ChargeItem", charge)
    return FhirResponse(result.record.body, status_code=200 if line is not None else 201)


CHARGE_LINE = Operation(
    code="charge",
    id="Encounter-charge",
    title="Add or change a fee sheet line",
    description="A ChargeItem of the visit for a code and units, priced from the fee schedule.",
    levels=(INSTANCE,),
    resource_types=("Encounter",),
    affects_state=True,
    parameters=(
        Parameter("code", "in", 1, "1", "Coding", "The billing code (system|code)."),
        Parameter("units", "in", 0, "1", "decimal", "Units (default 1)."),
        Parameter("chargeItem", "in", 0, "1", "Reference", "The line to change (none: a new line)."),
        Parameter("return", "out", 1, "1", "ChargeItem", "The priced line."),
    ),
    handler=charge_line,
)
