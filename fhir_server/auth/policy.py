"""What one caller may do: the AccessPolicy the engine receives with every interaction.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html

A policy answers two questions. `require(permission, type)` says whether an interaction is
allowed at all (else Forbidden, 403, naming the scope it lacks). `reaches(permission, type)`
says which resources of that type it may touch, as alternatives the engine turns into
database filters (engine/access.py): each is "in this patient's compartment" (a `patient/`
scope) and/or "matching this search" (a granular v2 scope such as
`patient/Observation.rs?category=...|laboratory`). Several scopes for the same type and
permission are alternatives (OR); one without either limit reaches everything.

Permissions are SMART v2 letters: c create, r read (read, vread, instance history), u update
(and patch), d delete, s search (search, type and system history).

A token with `openid fhirUser` may also read the one resource its user stands for (the
Practitioner or Patient named by `fhirUser`), whatever its resource scopes: SMART apps read it
to show who is signed in. Only that resource, and only read (its current version).

Trusted internal callers (the CLI, the HL7 v2 adapter, background jobs) get `system()`; a
server running without authorization (development) gives every request `open()`. Both reach
everything; they differ only in who they say the caller is (for audit).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..errors import Forbidden
from ..i18n import _
from ..search.registry import default_registry
from .grant import Grant
from .scopes import ResourceScope, ScopeError, narrow, parse_scope, within

PERMISSION_NAMES = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
READ_PERMISSIONS = frozenset("rs")
SYSTEM_WRITTEN = frozenset({"AuditEvent"})
"""Types only a `system/` scope (or a trusted caller) may create, update or delete: a user or an app
must not forge or erase the record of what was done (the server's own log is the `audit` collection)."""


@dataclass(frozen=True)
class Reach:
    """One way of reaching resources of a type: within `compartment` ("Patient/123", None: any)
    and matching the search `query` (no pairs: any)."""

    compartment: str | None = None
    query: tuple[tuple[str, str], ...] = ()

    @property
    def unlimited(self) -> bool:
        return self.compartment is None and not self.query


EVERYTHING = (Reach(),)
ADMIN_SCOPE = ResourceScope("system", "*", frozenset("cruds"))


def administers(role: str | None, scopes: tuple[ResourceScope, ...]) -> bool:
    """Whether a role and scopes make an administrator: the admin role, or a `system/*.cruds` scope."""
    return role == "admin" or any(within(ADMIN_SCOPE, s) for s in scopes)


@lru_cache(maxsize=1024)
def resource_scopes(scopes: tuple[str, ...]) -> tuple[ResourceScope, ...]:
    """The resource scopes of a scope list; malformed ones grant nothing."""
    out = []
    for text in scopes:
        try:
            scope = parse_scope(text)
        except ScopeError:
            continue
        if scope is not None:
            out.append(scope)
    return tuple(out)


@lru_cache(maxsize=1024)
def _within_role(scopes: tuple[str, ...], ceiling: tuple[str, ...]) -> tuple[str, ...]:
    """`scopes` cut down to the role's current ceiling (a role may have lost scopes since the token was issued)."""
    try:
        return tuple(narrow(scopes, ceiling))
    except ScopeError:
        return ()


def in_patient_compartment(resource_type: str) -> bool:
    """Whether resources of this type can belong to a patient's compartment (Patient itself included)."""
    return resource_type == "Patient" or bool(default_registry().compartment_parameters(resource_type))


@dataclass(frozen=True)
class AccessPolicy:
    """Who is asking (for audit: `actor`, client, user, role) and what they may do (scopes, launch context)."""

    actor: str
    scopes: tuple[ResourceScope, ...] = ()
    trusted: bool = False
    client_id: str | None = None
    subject: str | None = None
    fhir_user: str | None = None
    role: str | None = None
    patient: str | None = None
    encounter: str | None = None
    own_record: str | None = None
    """"Practitioner/123": the user's own resource, readable with `openid fhirUser` (see the module docstring)."""
    historical: bool = False
    """Its writes record what already happened elsewhere (`fhir-server import`, Bulk `$import`): the rules that
    check still run, the rules that start follow-up work (charge capture) do not."""

    @classmethod
    def from_grant(cls, grant: Grant, roles: dict[str, list[str]]) -> AccessPolicy:
        """The policy of a token: its scopes within its user's role as the roles are now."""
        scopes = grant.scopes
        if grant.role is not None:
            scopes = _within_role(scopes, tuple(roles.get(grant.role, ())))
        return cls(
            actor="token",
            scopes=resource_scopes(scopes),
            client_id=grant.client_id,
            subject=grant.subject,
            fhir_user=grant.fhir_user,
            role=grant.role,
            patient=grant.patient,
            encounter=grant.encounter,
            own_record=grant.fhir_user if {"openid", "fhirUser"} <= set(scopes) else None,
        )

    @classmethod
    def system(cls, actor: str = "system", historical: bool = False) -> AccessPolicy:
        """Full access for trusted internal callers: `actor` names them ("cli", "hl7v2", "export" ...)."""
        return cls(actor=actor, trusted=True, historical=historical)

    @classmethod
    def open(cls) -> AccessPolicy:
        """Full access for every request of a server running without authorization (development only)."""
        return cls(actor="open", trusted=True)

    @property
    def patient_compartment(self) -> str | None:
        """ "Patient/<id>" of the patient in context, if any."""
        return f"Patient/{self.patient}" if self.patient else None

    def _usable(self, permission: str, resource_type: str) -> list[ResourceScope]:
        system_only = resource_type in SYSTEM_WRITTEN and permission in "cud"
        return [
            s
            for s in self.scopes
            if s.allows(permission, resource_type)
            and (s.context != "patient" or self.patient is not None)
            and (s.context == "system" or not system_only)
        ]

    def _own(self, permission: str, resource_type: str) -> Reach | None:
        """The reach of the user's own resource, when `permission` is a read of its type."""
        if permission != "r" or self.own_record is None:
            return None
        own_type, _sep, own_id = self.own_record.partition("/")
        return Reach(query=(("_id", own_id),)) if own_type == resource_type and own_id else None

    def allows(self, permission: str, resource_type: str) -> bool:
        """Whether some resources of `resource_type` may be reached with `permission`."""
        return (
            self.trusted
            or bool(self._usable(permission, resource_type))
            or self._own(permission, resource_type) is not None
        )

    def require(self, permission: str, resource_type: str) -> None:
        """Raise Forbidden (403) naming the missing scope unless `permission` is granted on `resource_type`."""
        if self.allows(permission, resource_type):
            return
        interaction = PERMISSION_NAMES.get(permission, permission)
        if resource_type in SYSTEM_WRITTEN and permission in "cud":
            raise Forbidden(
                _("Only a system/ scope may {interaction} {type} resources.").format(
                    interaction=interaction, type=resource_type
                )
            )
        if any(s.allows(permission, resource_type) for s in self.scopes):
            raise Forbidden(
                _("patient/ scopes need a patient in context; this token has none, so {interaction} on {type} "
                  "is not allowed.").format(interaction=interaction, type=resource_type)
            )  # fmt: skip
        raise Forbidden(
            _("This token does not allow {interaction} on {type}: that needs a scope such as "
              "user/{type}.{permission} or patient/{type}.{permission}.").format(
                interaction=interaction, type=resource_type, permission=permission
            )
        )  # fmt: skip

    def require_system(self, permission: str, resource_type: str = "*") -> None:
        """Raise Forbidden unless a `system/` scope grants `permission` on `resource_type` (`*`: on every type).

        Server-wide operations ($import, $reindex, system $export, jobs, SearchParameter changes)
        act beyond any one user's patients, so a user or patient token never suffices.
        """
        if self.trusted:
            return
        for scope in self.scopes:
            if scope.context == "system" and not scope.query and scope.allows(permission, resource_type):
                return
        raise Forbidden(
            _("This operation needs a system/{type}.{permission} scope (a backend service or an administrator).")
            .format(type=resource_type, permission=permission)
        )  # fmt: skip

    def require_admin(self) -> None:
        """Raise Forbidden unless the caller administers the server (admin role, system/*.cruds, trusted).

        The audit log and the HL7 v2 message log show every patient's data and who saw it.
        """
        if self.trusted or administers(self.role, self.scopes):
            return
        raise Forbidden(_("This needs an administrator: the admin role or a system/*.cruds scope."))

    def reaches(self, permission: str, resource_type: str) -> tuple[Reach, ...]:
        """The alternatives (OR) that bound what `permission` reaches of `resource_type`; () when nothing.

        A `patient/` scope confines reads to the patient's compartment for types that can be
        in one (a Practitioner or a Medication is read freely), and every write to it.
        """
        if self.trusted:
            return EVERYTHING
        confined = permission not in READ_PERMISSIONS or in_patient_compartment(resource_type)
        found: list[Reach] = []
        for scope in self._usable(permission, resource_type):
            compartment = self.patient_compartment if scope.context == "patient" and confined else None
            reach = Reach(compartment, scope.query)
            if reach.unlimited:
                return EVERYTHING
            if reach not in found:
                found.append(reach)
        own = self._own(permission, resource_type)
        if own is not None and own not in found:
            found.append(own)
        return tuple(found)


__all__ = ["ADMIN_SCOPE", "EVERYTHING", "AccessPolicy", "Reach", "administers", "in_patient_compartment"]
