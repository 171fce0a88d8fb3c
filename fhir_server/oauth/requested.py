"""The `scope` an app asks for at authorize or token time, parsed and checked for its flow."""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidScopeError

from ..auth.scopes import ScopeError, parse_scope, split_scopes
from .errors import plain


def requested_scopes(text: str | None, *, backend: bool) -> list[str]:
    """The requested scopes; InvalidScopeError when none, when one is malformed, or when one does not
    fit the flow: backend services (`backend`) get `system/` scopes only, apps never do."""
    scopes = split_scopes(text or "")
    if not scopes:
        raise InvalidScopeError("No scope was requested.")
    for scope in scopes:
        try:
            parsed = parse_scope(scope)
        except ScopeError as exc:
            raise InvalidScopeError(plain(str(exc))) from exc
        is_system = parsed is not None and parsed.context == "system"
        if backend and not is_system:
            raise InvalidScopeError(plain(f"{scope}: backend services get system/ scopes only."))
        if not backend and is_system:
            raise InvalidScopeError(plain(f"{scope}: system scopes are for backend services (client_credentials)."))
    return scopes
