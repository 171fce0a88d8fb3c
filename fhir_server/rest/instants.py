"""Date-time query parameters of the admin routes (`since`, `until`): ISO 8601 with a timezone."""

from __future__ import annotations

from datetime import datetime

from ..errors import InvalidRequest
from ..i18n import _


def instant_param(name: str, raw: str | None) -> datetime | None:
    """The parameter `name` as an aware datetime; None when absent. Raise InvalidRequest (400) otherwise."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidRequest(_("'{name}' must be an ISO 8601 date-time.").format(name=name), expression=name) from exc
    if value.tzinfo is None:
        raise InvalidRequest(_("'{name}' needs a timezone.").format(name=name), expression=name)
    return value
