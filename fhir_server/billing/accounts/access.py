"""Who may post money and see the practice's receivables: the billing role (and administrators).

A token's scopes must allow the interaction (`policy.require`); a user token must also be of a billing
role: a physician's `user/*.cruds` reaches Accounts, but posting payments and reading the receivables
are the billing office's work. A patient may read the balance of their own accounts. Trusted callers
(the CLI) and role-less tokens (backend services) are judged by their scopes alone.
"""

from __future__ import annotations

from ...auth.policy import AccessPolicy
from ...errors import Forbidden
from ...i18n import _

BILLING_ROLES = frozenset({"billing", "admin"})


def require_billing(policy: AccessPolicy, permission: str, resource_type: str, *, own: bool = False) -> None:
    """Raise Forbidden (403) unless the caller may do billing work `permission` on `resource_type`.

    `own`: a patient may too (reading their own balance: the read itself is confined to their compartment).
    """
    policy.require(permission, resource_type)
    allowed = BILLING_ROLES | ({"patient"} if own else set())
    if policy.role is not None and policy.role not in allowed:
        raise Forbidden(_("Only the billing role may do this."))
