"""SMART App Launch scopes: parsing, v1 and v2 forms, and narrowing one set by another.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html

A resource scope is `<context>/<type>.<permissions>[?<query>]`: context `patient`, `user`
or `system`; type a resource type or `*`; permissions a v2 subset of `cruds` (in that
order) or v1 `read` / `write` / `*`; a v2 query (granular scope) narrows it to the resources
matching those search parameters. Every other scope (`openid`, `launch/patient`, ...) is a
plain word. Narrowing (requested ∩ consented ∩ role) works on parsed scopes, so
`patient/*.rs` within a `user/Observation.cruds` ceiling becomes `patient/Observation.rs`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

CONTEXTS = ("patient", "user", "system")
PERMISSIONS = "cruds"
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_V1_OF = {v: k for k, v in _V1.items()}
_SHAPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([a-z*]+)(?:\?(.*))?$")

LAUNCH_SCOPES = frozenset(
    {"launch", "launch/patient", "launch/encounter", "openid", "fhirUser", "profile", "offline_access", "online_access"}
)
"""The non-resource scopes this server understands."""


class ScopeError(ValueError):
    """A scope that looks like a resource scope but is malformed."""


@dataclass(frozen=True)
class ResourceScope:
    """One parsed resource scope; `permissions` is a subset of `cruds`, `query` the granular filter."""

    context: str
    resource_type: str
    permissions: frozenset[str]
    query: tuple[tuple[str, str], ...] = ()
    v1: bool = False

    def allows(self, permission: str, resource_type: str) -> bool:
        """Whether this scope grants `permission` (one of c r u d s) on `resource_type`, before its query."""
        return permission in self.permissions and self.resource_type in ("*", resource_type)

    def __str__(self) -> str:
        letters = "".join(p for p in PERMISSIONS if p in self.permissions)
        permissions = _V1_OF.get(letters, letters) if self.v1 and not self.query else letters
        text = f"{self.context}/{self.resource_type}.{permissions}"
        return f"{text}?{urlencode(self.query, safe='|:/')}" if self.query else text


def parse_scope(text: str) -> ResourceScope | None:
    """The resource scope `text` stands for; None for any other scope. Raise ScopeError when malformed."""
    if "/" not in text or text.split("/", 1)[0] not in CONTEXTS:
        return None
    match = _SHAPE.match(text)
    if match is None:
        raise ScopeError(f"Malformed scope {text!r}.")
    context, resource_type, permissions, query = match.groups()
    if permissions in _V1:
        if query:
            raise ScopeError(f"Scope {text!r}: a query needs v2 permissions (a subset of 'cruds').")
        return ResourceScope(context, resource_type, frozenset(_V1[permissions]), v1=True)
    if not _in_order(permissions):
        raise ScopeError(f"Scope {text!r}: permissions must be letters of 'cruds' in that order.")
    pairs = tuple(sorted(parse_qsl(query, keep_blank_values=False, strict_parsing=True))) if query else ()
    return ResourceScope(context, resource_type, frozenset(permissions), pairs)


def _in_order(letters: str) -> bool:
    positions = [PERMISSIONS.find(ch) for ch in letters]
    return bool(letters) and -1 not in positions and positions == sorted(set(positions))


def split_scopes(scope: str) -> list[str]:
    """The space-separated scope string as a list, duplicates dropped, order kept."""
    return list(dict.fromkeys(scope.split()))


def intersect(a: ResourceScope, b: ResourceScope) -> ResourceScope | None:
    """What both scopes allow, or None. `patient/` is narrower than `user/`; `system/` meets only `system/`."""
    if a.context != b.context and "system" in (a.context, b.context):
        return None
    if a.resource_type != b.resource_type and "*" not in (a.resource_type, b.resource_type):
        return None
    permissions = a.permissions & b.permissions
    if not permissions:
        return None
    context = "patient" if "patient" in (a.context, b.context) else a.context
    resource_type = b.resource_type if a.resource_type == "*" else a.resource_type
    query = tuple(sorted(set(a.query) | set(b.query)))
    return ResourceScope(context, resource_type, permissions, query, v1=a.v1 and b.v1)


def within(scope: ResourceScope, ceiling: ResourceScope) -> bool:
    """Whether `ceiling` allows everything `scope` allows."""
    return intersect(scope, ceiling) == ResourceScope(
        scope.context, scope.resource_type, scope.permissions, scope.query, v1=scope.v1 and ceiling.v1
    )


def narrow(requested: Iterable[str], ceiling: Iterable[str]) -> list[str]:
    """The scopes of `requested` that `ceiling` allows, resource scopes cut down to what it allows.

    A requested scope that is within the ceiling is granted as written (so a v1 request gets v1
    scopes back); a wider one is replaced by its intersections with the ceiling's scopes.
    Malformed requested scopes raise ScopeError; unknown plain scopes are dropped.
    """
    ceiling_list = list(ceiling)
    ceiling_resources = [s for s in (parse_scope(c) for c in ceiling_list) if s is not None]
    granted: list[str] = []
    for text in requested:
        scope = parse_scope(text)
        if scope is None:
            if text in ceiling_list and text in LAUNCH_SCOPES:
                granted.append(text)
            continue
        if any(within(scope, c) for c in ceiling_resources):
            granted.append(text)
            continue
        parts = [p for p in (intersect(scope, c) for c in ceiling_resources) if p is not None]
        granted.extend(str(p) for p in parts if not any(p != q and within(p, q) for q in parts))
    return list(dict.fromkeys(granted))
