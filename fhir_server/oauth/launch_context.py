"""Checking the patient and encounter a launch puts in context, before any handle is made.

https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch: the launch
context names FHIR resources the app will read with its token, so they must exist, be
visible to whoever launches (the same 404 a FHIR read would give: an id one may not see
looks unknown), and the encounter must be one of that patient's.
"""

from __future__ import annotations

from typing import Any

from .. import engine
from ..auth.policy import AccessPolicy
from ..errors import InvalidRequest, ResourceDeleted, ResourceNotFound
from ..i18n import _
from ..storage import ResourceStore


class LaunchRefused(InvalidRequest):
    """The launch cannot be made: unknown client, no launch URL, no patient, a malformed request (400)."""


class UnknownContext(LaunchRefused):
    """The patient or encounter does not exist or the caller may not see it (404)."""

    status, issue_code = 404, "not-found"


class MismatchedContext(LaunchRefused):
    """The encounter belongs to another patient (or none) (422)."""

    status, issue_code = 422, "processing"


def belongs_to(encounter: dict[str, Any], patient: str) -> bool:
    """Whether `encounter`'s subject is Patient/`patient` (relative, or absolute on any base)."""
    reference = str((encounter.get("subject") or {}).get("reference", ""))
    wanted = f"Patient/{patient}"
    return reference == wanted or reference.endswith("/" + wanted)


async def check_launch_context(
    store: ResourceStore, policy: AccessPolicy, patient: str, encounter: str | None = None
) -> None:
    """Raise UnknownContext, MismatchedContext or Forbidden (the policy cannot read the type at all)
    unless Patient/`patient` and Encounter/`encounter` (if given, one of that patient's) are visible."""
    await _visible(store, policy, "Patient", patient, "patient")
    if encounter is None:
        return
    record = await _visible(store, policy, "Encounter", encounter, "encounter")
    if not belongs_to(record, patient):
        raise MismatchedContext(
            _("Encounter/{encounter} is not an encounter of Patient/{patient}.").format(
                encounter=encounter, patient=patient
            ),
            expression="encounter",
        )


async def _visible(
    store: ResourceStore, policy: AccessPolicy, resource_type: str, resource_id: str, field: str
) -> dict[str, Any]:
    try:
        return (await engine.read_resource(store, policy, resource_type, resource_id)).resource()
    except (ResourceNotFound, ResourceDeleted, InvalidRequest) as exc:
        raise UnknownContext(
            _("{type}/{id} does not exist or is not visible to you.").format(type=resource_type, id=resource_id),
            expression=field,
        ) from exc


__all__ = ["LaunchRefused", "MismatchedContext", "UnknownContext", "belongs_to", "check_launch_context"]
