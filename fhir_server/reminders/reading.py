"""Reading the resources a reminder or a feed names, through the engine, with the server's own access."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..auth.policy import AccessPolicy
from ..engine.read import read_resource
from ..errors import InvalidRequest, ResourceDeleted, ResourceNotFound
from ..storage import ResourceStore

REMINDERS = AccessPolicy.system("reminders")


async def current(store: ResourceStore, references: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The current resources of `references` ("Type/id") by reference; missing, deleted or malformed ones left out."""
    found: dict[str, dict[str, Any]] = {}
    for reference in dict.fromkeys(references):
        resource_type, _sep, resource_id = reference.partition("/")
        try:
            found[reference] = (await read_resource(store, REMINDERS, resource_type, resource_id)).resource()
        except (ResourceNotFound, ResourceDeleted, InvalidRequest):
            continue
    return found
