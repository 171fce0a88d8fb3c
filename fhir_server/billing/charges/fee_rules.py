"""Write rule: a fee schedule entry must be usable for pricing.

Refused (400, every problem listed with its FHIRPath): a url not matching its code, a price level
coded twice, a price without an amount, negative, or without an ISO 4217 currency, two currencies
in one entry, and (409) an active entry whose effective period overlaps another active entry of the
same code on a level both price. The overlap check locks the code, so two concurrent writes of
one code cannot both pass it.
"""

from __future__ import annotations

from typing import Any

from ...engine.rules import WriteContext, write_rule
from ...errors import InvalidResource, Issue, VersionConflict
from ...i18n import _
from ..dates import period_days
from .fee_schedule import MAX_ENTRIES_PER_CODE, fee_url, is_fee_entry, prices
from .money import currency_of, money_value


def _code_of(definition: dict[str, Any]) -> str | None:
    url = definition["url"]
    codes = [c.get("code") for c in (definition.get("code") or {}).get("coding") or []]
    return next((code for code in codes if isinstance(code, str) and fee_url(code) == url), None)


def _problems(definition: dict[str, Any]) -> list[Issue]:
    issues = []
    if _code_of(definition) is None:
        issues.append(
            Issue(
                "error",
                "invalid",
                _("A fee schedule entry's url must end with one of its codes."),
                "ChargeItemDefinition.url",
            )
        )
    seen: set[str] = set()
    currencies: set[str] = set()
    for price in prices(definition):
        value, currency = money_value(price.amount), currency_of(price.amount)
        if price.level in seen:
            issues.append(
                Issue(
                    "error", "invalid", _("Price level {level} is given twice.").format(level=price.level), price.path
                )
            )
        seen.add(price.level)
        if value is None or value < 0:
            message = _("A price must be an amount of zero or more.")
            issues.append(Issue("error", "value", message, f"{price.path}.amount.value"))
        if currency is None:
            message = _("A price needs its currency (an ISO 4217 code such as USD).")
            issues.append(Issue("error", "required", message, f"{price.path}.amount.currency"))
        else:
            currencies.add(currency)
    if not seen:
        message = _("A fee schedule entry needs at least one price level.")
        issues.append(Issue("error", "required", message, "ChargeItemDefinition.propertyGroup"))
    if len(currencies) > 1:
        message = _("All prices of one entry must be in the same currency.")
        issues.append(Issue("error", "value", message, "ChargeItemDefinition.propertyGroup"))
    return issues


def _overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    first_a, last_a = period_days(a.get("effectivePeriod"))
    first_b, last_b = period_days(b.get("effectivePeriod"))
    return first_a <= last_b and first_b <= last_a


@write_rule("fee-schedule-entry", ["ChargeItemDefinition"], ["create", "update", "patch"])
async def fee_schedule_entry(context: WriteContext) -> None:
    definition = context.new
    if definition is None or not is_fee_entry(definition):
        return
    issues = _problems(definition)
    if issues:
        raise InvalidResource(issues[0].diagnostics, issues=issues)
    if definition.get("status") != "active":
        return
    await context.lock(f"fee/{definition['url']}")
    levels = {price.level for price in prices(definition)}
    stored = await context.find(
        "ChargeItemDefinition", [("url", definition["url"]), ("status", "active")], MAX_ENTRIES_PER_CODE
    )
    others = [r.resource() for r in stored if r.id != context.resource_id]
    others += [
        w.record.resource()
        for w in context.writes
        if w is not context.write and w.record.resource_type == "ChargeItemDefinition" and not w.record.deleted
    ]
    for other in others:
        if other.get("url") != definition["url"] or other.get("status") != "active":
            continue
        shared = levels & {price.level for price in prices(other)}
        if shared and _overlaps(definition, other):
            message = _("The effective period overlaps ChargeItemDefinition/{id} for the same code and price level.")
            raise VersionConflict(message.format(id=other.get("id")), expression="ChargeItemDefinition.effectivePeriod")
