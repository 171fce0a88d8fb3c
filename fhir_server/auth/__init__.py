"""Who may do what: SMART scopes, roles as scope ceilings, and the grant behind each token."""

from .grant import Grant
from .policy import AccessPolicy, Reach
from .roles import DEFAULT_ROLES, load_roles
from .scopes import ResourceScope, ScopeError, intersect, narrow, parse_scope, split_scopes, within

__all__ = [
    "AccessPolicy",
    "Reach",
    "DEFAULT_ROLES",
    "Grant",
    "ResourceScope",
    "ScopeError",
    "intersect",
    "load_roles",
    "narrow",
    "parse_scope",
    "split_scopes",
    "within",
]
