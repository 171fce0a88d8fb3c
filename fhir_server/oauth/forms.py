"""OAuth request parameters: form bodies and query strings, each parameter at most once.

RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once."
Bodies are `application/x-www-form-urlencoded` (RFC 6749 §4.1.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from fastapi import Request

from .errors import plain

MAX_FORM_BYTES = 64 * 1024


def single_valued(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The parameters as a dict; raise InvalidRequestError when one is repeated."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise InvalidRequestError(plain(f"Parameter {name} is repeated."))
        params[name] = value
    return params


async def form_of(request: Request) -> dict[str, str]:
    """The parameters of a form POST. Raise InvalidRequestError for another body type or a repeat."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise InvalidRequestError("The body must be application/x-www-form-urlencoded.")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidRequestError("The form is too large.")
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise InvalidRequestError("The form is not UTF-8.") from exc
    return single_valued(parse_qsl(text, keep_blank_values=True))
