"""Write rules of claims out: a queued professional Claim passes checks.py and is the only active one of
its visit (409 otherwise; cancel the old one first); a Coverage is usable.

Coverage (what the claim and the eligibility request read from it):
- a payer Organization among `payor` needs the member id (`subscriberId`) the payer knows;
- a subscriber other than the beneficiary needs `relationship`;
- `order` (1 primary, 2 secondary, ...) is unique among the beneficiary's active coverages whose
  periods overlap: two primaries would make the price level and the claim's payer a guess (409;
  a lock per beneficiary makes the check race-free).
"""

from __future__ import annotations

from typing import Any

from ...engine.rules import WriteContext, write_rule
from ...errors import InvalidResource, Issue, Unprocessable, VersionConflict
from ...i18n import _
from ..dates import period_days
from ..references import reference_of
from .checks import claim_problems, is_professional

MAX_COVERAGES = 50
MAX_CLAIMS_PER_VISIT = 20


@write_rule("professional-claim-checked", ["Claim"], ["create", "update", "patch"])
async def professional_claim_checked(context: WriteContext) -> None:
    claim = context.new
    if claim is None or claim.get("status") != "active" or not is_professional(claim):
        return
    issues = await claim_problems(context.store, claim)
    if issues:
        raise Unprocessable(issues[0].diagnostics, issues=issues)
    await _one_claim_per_visit(context, claim)


async def _one_claim_per_visit(context: WriteContext, claim: dict[str, Any]) -> None:
    """A visit is billed by one active claim (a lock per visit makes two concurrent `$claim` calls safe)."""
    visits = sorted(
        {r for item in claim.get("item") or [] for e in item.get("encounter") or [] if (r := reference_of(e))}
    )
    for visit in visits:
        await context.lock(f"claim/{visit}")
    for visit in visits:
        for other in await context.find("Claim", [("encounter", visit)], MAX_CLAIMS_PER_VISIT):
            body = other.resource()
            if other.id != context.resource_id and body.get("status") == "active" and is_professional(body):
                message = _("{visit} is already billed by the active Claim/{id}.").format(visit=visit, id=other.id)
                raise VersionConflict(message, expression="Claim.item.encounter")


def _coverage_issues(coverage: dict[str, Any]) -> list[Issue]:
    issues = []
    payors = [reference_of(p) or "" for p in coverage.get("payor") or []]
    if any(p.startswith("Organization/") for p in payors) and not coverage.get("subscriberId"):
        message = _("A coverage by a payer needs the member id (subscriberId).")
        issues.append(Issue("error", "required", message, "Coverage.subscriberId"))
    subscriber = reference_of(coverage.get("subscriber"))
    if subscriber and subscriber != reference_of(coverage.get("beneficiary")) and not coverage.get("relationship"):
        message = _("A subscriber other than the beneficiary needs the relationship.")
        issues.append(Issue("error", "required", message, "Coverage.relationship"))
    return issues


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    first_a, last_a = period_days(a.get("period"))
    first_b, last_b = period_days(b.get("period"))
    return first_a <= last_b and first_b <= last_a


@write_rule("coverage-usable", ["Coverage"], ["create", "update", "patch"])
async def coverage_usable(context: WriteContext) -> None:
    coverage = context.new
    if coverage is None:
        return
    issues = _coverage_issues(coverage)
    if issues:
        raise InvalidResource(issues[0].diagnostics, issues=issues)
    beneficiary = reference_of(coverage.get("beneficiary"))
    order = coverage.get("order")
    if coverage.get("status") != "active" or beneficiary is None or not isinstance(order, int):
        return
    await context.lock(f"coverage/{beneficiary}")
    stored = await context.find("Coverage", [("beneficiary", beneficiary), ("status", "active")], MAX_COVERAGES)
    others = [r.resource() for r in stored if r.id != context.resource_id]
    others += [
        w.record.resource()
        for w in context.writes
        if w is not context.write and w.record.resource_type == "Coverage" and not w.record.deleted
    ]
    for other in others:
        same = other.get("status") == "active" and reference_of(other.get("beneficiary")) == beneficiary
        if same and other.get("order") == order and _overlap(coverage, other):
            message = _("Coverage/{id} already has this order for the same beneficiary and period.")
            raise VersionConflict(message.format(id=other.get("id")), expression="Coverage.order")
