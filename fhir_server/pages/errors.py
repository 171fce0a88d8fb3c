"""Failures the sign-in pages show as an error page, and the route class that shows them."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from ..i18n import _
from .responses import error_page, redirect_here


class PageError(Exception):
    """Stop here and show an error page with `status`, a title and a message for the person."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


class GoTo(Exception):
    """Stop here and send the browser to `path`, one of this server's pages (the sign-in page, say)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def unknown_request() -> PageError:
    return PageError(
        400,
        _("This sign-in request is unknown or has expired"),
        _("Go back to the app and start again."),
    )


class PageRoute(APIRoute):
    """Routes whose PageError becomes an HTML error page (not an OperationOutcome), and GoTo a redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except PageError as exc:
                return error_page(exc.status, exc.title, exc.message)
            except GoTo as exc:
                return redirect_here(exc.path)

        return handle
