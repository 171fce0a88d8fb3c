"""The server's own HTML pages for SMART authorization: sign-in, patient and encounter pickers, consent,
sign-out; and the staff launch page; and the site's icon.

The authorize endpoint parks a validated request (storage/authorizations.py) and sends the
browser to `/auth/login?request=<id>`; from there these pages take it to the app's
redirect_uri with a one-time code, or with `error=access_denied`.
"""

from fastapi import APIRouter

from . import consent, encounter_picker, launch_app, login, picker
from .errors import PageRoute
from .responses import favicon, favicon_svg, stylesheet
from .stores import PageStores


def pages_router() -> APIRouter:
    """The pages under /auth, and the site's icon at /favicon.ico (mount at the application root)."""
    pages = APIRouter(prefix="/auth", route_class=PageRoute)
    pages.include_router(login.router)
    pages.include_router(picker.router)
    pages.include_router(encounter_picker.router)
    pages.include_router(launch_app.router)
    pages.include_router(consent.router)
    pages.add_api_route("/static/pages.css", stylesheet, methods=["GET"], include_in_schema=False)
    router = APIRouter()
    router.include_router(pages)
    router.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    router.add_api_route("/favicon.svg", favicon_svg, methods=["GET"], include_in_schema=False)
    return router


__all__ = ["PageStores", "pages_router"]
