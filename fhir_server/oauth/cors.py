"""CORS for browser apps: discovery, metadata, the FHIR API and the token endpoints.

A public SMART app running in a browser on another origin fetches the discovery document,
exchanges its code, refreshes, revokes and calls the FHIR API with a bearer token: all of
that needs CORS (with preflight for the Authorization header). Any origin is allowed and no
credentials (cookies) are: access rides in the Authorization header, never in cookies, so a
wildcard exposes nothing. The pages a user sees (authorize, login, consent) are not covered.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CORS_PATHS = ("/fhir", "/.well-known/", "/auth/token", "/auth/introspect", "/auth/revoke", "/auth/jwks",
              "/auth/register", "/auth/style")  # fmt: skip
"""Path prefixes answered with CORS headers."""

_EXPOSED = ["Location", "Content-Location", "ETag", "Last-Modified", "X-Request-Id", "WWW-Authenticate"]


class PathCorsMiddleware:
    """Starlette's CORSMiddleware, applied only below CORS_PATHS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=_EXPOSED,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(CORS_PATHS):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
