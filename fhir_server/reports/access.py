"""Who may run a report: a role it names, and access to every resource its views read.

The materialized rows are the whole practice's, so besides the report's role list the caller must
reach every resource of each type the views read (a `user/` or `system/` scope without a query
limit). A patient token (reads confined to one compartment) or a granular scope therefore never
runs a practice report, whatever role it claims. Trusted callers (an open development server, the
CLI) run every report; a token holding `system/*.cruds` counts as the admin role.
"""

from __future__ import annotations

from ..auth.policy import EVERYTHING, AccessPolicy, administers
from ..errors import Forbidden
from ..i18n import _
from .model import Report


def caller_roles(policy: AccessPolicy) -> frozenset[str]:
    roles = {policy.role} if policy.role else set()
    if administers(policy.role, policy.scopes):
        roles.add("admin")
    return frozenset(roles)


def may_run(policy: AccessPolicy, report: Report) -> bool:
    """Whether `policy` passes the report's role gate and reaches all of its rows (no exception)."""
    if policy.trusted:
        return True
    if not caller_roles(policy) & set(report.roles):
        return False
    return all(policy.reaches("s", resource_type) == EVERYTHING for resource_type in report.resource_types)


def require_run(policy: AccessPolicy, report: Report) -> None:
    """Raise Forbidden (403) naming why the caller may not run `report`."""
    if policy.trusted:
        return
    if not caller_roles(policy) & set(report.roles):
        raise Forbidden(_("The report {name} may be run by these roles only: {roles}.").format(
            name=report.name, roles=", ".join(report.roles)))  # fmt: skip
    for resource_type in report.resource_types:
        if policy.reaches("s", resource_type) != EVERYTHING:
            raise Forbidden(_("The report {name} reads every {type} resource of the practice; this token may "
                              "not.").format(name=report.name, type=resource_type))  # fmt: skip
