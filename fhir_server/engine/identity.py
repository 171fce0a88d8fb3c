"""Logical ids, version ids and instants as FHIR R4 defines them."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from ..errors import InvalidRequest
from ..i18n import _
from ..storage.records import now as now  # the one clock of stored instants, kept where the engine finds it

ID_PATTERN = r"[A-Za-z0-9\-.]{1,64}"
"""A FHIR id (R4 datatypes.html#id)."""

_ID = re.compile(ID_PATTERN)


def new_id() -> str:
    """A server-assigned logical id."""
    return str(uuid.uuid4())


def check_id(resource_id: str, expression: str = "id") -> str:
    """Return `resource_id` if it is a valid FHIR id; raise InvalidRequest otherwise."""
    if not _ID.fullmatch(resource_id):
        raise InvalidRequest(
            _("'{id}' is not a valid resource id (1-64 characters of A-Z, a-z, 0-9, '-' and '.').").format(
                id=resource_id[:80]
            ),
            expression=expression,
        )
    return resource_id


def format_instant(moment: datetime) -> str:
    """An R4 `instant`, e.g. 2026-11-26T04:01:54.733Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
