"""Conditional request headers (If-Match, If-None-Match, If-Modified-Since) and Prefer."""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import parsedate_to_datetime

from fastapi import Request

from ..errors import InvalidRequest
from ..i18n import _
from ..storage import StoredResource

_ETAG = re.compile(r'\s*(?:W/)?"?(\d{1,18})"?\s*')


def if_match_version(request: Request) -> int | None:
    """The version named by If-Match (`W/"3"`), or None. Raises InvalidRequest if it is not one of ours."""
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    match = _ETAG.fullmatch(raw)
    if not match:
        raise InvalidRequest(_('If-Match must be a version ETag such as W/"3".'), expression="If-Match")
    return int(match.group(1))


def not_modified(request: Request, record: StoredResource) -> bool:
    """True when If-None-Match or If-Modified-Since says the client's copy is current (R4 http.html#cread)."""
    none_match = request.headers.get("if-none-match")
    if none_match is not None:
        tags = [_ETAG.fullmatch(tag) for tag in none_match.split(",")]
        return none_match.strip() == "*" or any(t and int(t.group(1)) == record.version_id for t in tags)
    since = request.headers.get("if-modified-since")
    if since is not None:
        try:
            client_time: datetime = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return record.last_updated.replace(microsecond=0) <= client_time
    return False


def preferred_return(request: Request) -> str:
    """`Prefer: return=minimal|representation|OperationOutcome`; representation by default."""
    for part in re.split(r"[;,]", request.headers.get("prefer", "")):
        key, _sep, value = part.strip().partition("=")
        if key.strip().lower() == "return":
            value = value.strip().strip('"')
            if value in ("minimal", "representation", "OperationOutcome"):
                return value
    return "representation"


def _handling(request: Request) -> str | None:
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    asked = [part for part in prefer.replace(";", ",").split(",") if part.startswith("handling=")]
    return asked[0].removeprefix("handling=") if asked else None


def lenient_handling(request: Request) -> bool:
    """`Prefer: handling=lenient`: unknown parameters are ignored (and named), not refused (search.html#errors)."""
    return _handling(request) == "lenient"
