"""OAuth 2 errors become responses here: JSON bodies, redirects back to the app, or a plain page.

RFC 6749 §5.2 (token endpoint: JSON `error`, `error_description`, 400 or 401) and §4.1.2.1
(authorize: redirect to the app with `error`, `error_description`, `state`). The error classes
are authlib's; an error raised with `redirect_uri` set goes back to the app. Errors found
before the redirect URI is trusted are shown to the user instead (no open redirect), on the
sign-in pages' styled error page.
`error_description` stays English: RFC 6749 limits it to ASCII and it is meant for developers.
"""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import OAuth2Error
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..i18n import _

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def plain(text: str) -> str:
    """`text` with what RFC 6749 forbids in `error_description` (quotes, backslashes, non-ASCII) replaced by `?`."""
    return "".join(ch if 0x20 <= ord(ch) <= 0x7E and ch not in '"\\' else "?" for ch in text)


class BearerRefused(Exception):
    """A route that needs a bearer token got none that works (401) or one that may not do this (403).

    RFC 6750 §3.1: `invalid_token` or `insufficient_scope`, with `WWW-Authenticate: Bearer`.
    """

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error = status, error


class UntrustedRequest(Exception):
    """An authorize request that cannot be answered by redirect: unknown client or redirect URI."""


def oauth_error_response(exc: OAuth2Error) -> Response:
    """The RFC 6749 response for `exc`: a redirect when it carries a redirect URI, else JSON."""
    body = {"error": exc.error}
    description = exc.get_error_description()  # unlike get_body(), includes descriptions authlib computes
    if description:
        body["error_description"] = plain(description)
    if exc.state:
        body["state"] = exc.state
    if exc.redirect_uri:
        return RedirectResponse(add_params_to_uri(exc.redirect_uri, list(body.items())), 302, headers=NO_STORE)
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    return JSONResponse(body, status_code=exc.status_code or 400, headers=headers)


def error_page(message: str) -> Response:
    """The sign-in pages' error page telling the user the authorization request was refused, and why."""
    # Imported here: the pages import oauth (the launch page makes launches), so oauth may not import them first.
    from ..pages.responses import error_page as page_error

    return page_error(400, _("Authorization request refused"), message)


async def _on_oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuth2Error)
    return oauth_error_response(exc)


async def _on_bearer_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BearerRefused)
    challenge = f'Bearer error="{exc.error}", error_description="{plain(str(exc))}"'
    return JSONResponse(
        {"error": exc.error, "error_description": str(exc)},
        status_code=exc.status,
        headers={**NO_STORE, "WWW-Authenticate": challenge},
    )


async def _on_untrusted(request: Request, exc: Exception) -> Response:
    return error_page(str(exc))


def install_oauth_errors(app: FastAPI) -> None:
    app.add_exception_handler(OAuth2Error, _on_oauth_error)
    app.add_exception_handler(UntrustedRequest, _on_untrusted)
    app.add_exception_handler(BearerRefused, _on_bearer_refused)
