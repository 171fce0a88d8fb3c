"""The server's own HTML pages for SMART authorization: sign-in, patient and encounter pickers, consent,
sign-out; and the staff launch page.

The authorize endpoint parks a validated request (storage/authorizations.py) and sends the
browser to `/auth/login?request=<id>`; from there these pages take it to the app's
redirect_uri with a one-time code, or with `error=access_denied`.
"""

from fastapi import APIRouter

from . import consent, encounter_picker, launch_app, login, picker
from .errors import PageRoute
from .responses import stylesheet
from .stores import PageStores


def pages_router() -> APIRouter:
    """The pages under /auth (mount at the application root)."""
    router = APIRouter(prefix="/auth", route_class=PageRoute)
    router.include_router(login.router)
    router.include_router(picker.router)
    router.include_router(encounter_picker.router)
    router.include_router(launch_app.router)
    router.include_router(consent.router)
    router.add_api_route("/static/pages.css", stylesheet, methods=["GET"], include_in_schema=False)
    return router


__all__ = ["PageStores", "pages_router"]
