"""The staff pages' routes: /staff/ (the pages the user's role may open), /staff/<name> and its script,
the sign-in callback, the shell's script and style, and /staff/me (who the bearer token is).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from ..i18n import _
from ..oauth.bearer import bearer_grant
from ..oauth.state import urls_of
from .declaration import StaffPage
from .rendering import SECURITY_HEADERS, STATIC, environment, render

STATIC_FILES = {"staff.js": "text/javascript", "staff.css": "text/css"}


def staff_router(pages: Sequence[StaffPage]) -> APIRouter:
    """The routes of the shell and of `pages` (mount at the application root)."""
    by_name = {page.name: page for page in pages}
    if len(by_name) != len(pages):
        raise ValueError("Two staff pages have the same name.")
    templates = environment(pages)
    router = APIRouter(prefix="/staff", include_in_schema=False)

    def shell(
        request: Request, template: str, title: str, page: StaffPage | None = None, status: int = 200
    ) -> Response:
        roles = page.roles if page else ()
        aud = urls_of(request).fhir_base
        return render(templates, template, status, title=title, page=page, pages=pages, roles=roles, aud=aud)

    @router.get("/")
    async def index(request: Request) -> Response:
        return shell(request, "index.html", _("Practice"))

    @router.get("/signed-in")
    async def signed_in(request: Request) -> Response:
        return shell(request, "signed_in.html", _("Signing in…"))

    @router.get("/me")
    async def me(request: Request) -> Response:
        grant = await bearer_grant(request)
        if grant is None or grant.subject is None:
            return JSONResponse({"error": "invalid_token"}, 401, headers={"WWW-Authenticate": "Bearer"})
        answer = {"username": grant.subject, "role": grant.role, "fhirUser": grant.fhir_user}
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in STATIC_FILES:
            return Response(status_code=404, headers=SECURITY_HEADERS)
        return _file(STATIC / name, STATIC_FILES[name])

    @router.get("/{name}.js")
    async def script(name: str) -> Response:
        page = by_name.get(name)
        if page is None or not page.script.is_file():
            return Response(status_code=404, headers=SECURITY_HEADERS)
        return _file(page.script, "text/javascript")

    @router.get("/{name}")
    async def show(request: Request, name: str) -> Response:
        page = by_name.get(name)
        if page is None:
            return shell(request, "missing.html", _("There is no such page"), status=404)
        return shell(request, page.template.name, page.title(), page)

    return router


def _file(path: Path, media_type: str) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    return Response(path.read_bytes(), media_type=f"{media_type}; charset=utf-8", headers=headers)
