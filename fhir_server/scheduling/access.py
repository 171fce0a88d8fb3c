"""Who may book: the caller's own rights on Appointment, plus the bookkeeping a booking implies.

A booking also marks its Slots busy (and a check-in creates the Encounter): the operation writes those in
the same transaction under the caller's policy widened to exactly that bookkeeping, so the audit log names
the caller for every version. A caller booking through a `patient/` scope books only for its own patient:
every Patient in the appointment must be that patient (and the engine confines the write to that
patient's compartment besides).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..auth.policy import AccessPolicy
from ..auth.scopes import ResourceScope
from ..errors import Forbidden
from ..i18n import _
from .appointments import actors


def booking_policy(policy: AccessPolicy, *extra: tuple[str, str]) -> AccessPolicy:
    """`policy` allowed to update the Appointments it may create, and `extra` (type, permissions) besides.

    Raises Forbidden when the caller may not create Appointments at all.
    """
    policy.require("c", "Appointment")
    if policy.trusted:
        return policy
    contexts = {scope.context for scope in policy.scopes if scope.allows("c", "Appointment") and not scope.query}
    added = [ResourceScope(context, "Appointment", frozenset("ru")) for context in sorted(contexts)]
    added += [ResourceScope("user", resource_type, frozenset(letters)) for resource_type, letters in extra]
    return replace(policy, scopes=(*policy.scopes, *added))


def books_for_own_patient(policy: AccessPolicy) -> bool:
    """Whether the caller books only through `patient/` scopes (a patient, or a patient-facing app)."""
    if policy.trusted:
        return False
    return all(scope.context == "patient" for scope in policy.scopes if scope.allows("c", "Appointment"))


def check_patients(policy: AccessPolicy, appointment: dict[str, Any]) -> None:
    """Raise Forbidden when a patient-scoped caller books for anyone but its own patient."""
    if not books_for_own_patient(policy):
        return
    own = policy.patient_compartment
    for actor in actors(appointment):
        if actor.resource_type == "Patient" and actor.reference != own:
            raise Forbidden(_("A patient may book appointments only for themselves."), expression=actor.where)
