"""The style document behind `smart_style_url`: colours and sizes an EHR-launched app can match.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#styling
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

router = APIRouter()

STYLE = {
    "color_background": "#f7f7f5",
    "color_error": "#b3261e",
    "color_highlight": "#1f6feb",
    "color_modal_backdrop": "rgba(0, 0, 0, 0.4)",
    "color_success": "#2e7d32",
    "color_text": "#1f2328",
    "dim_border_radius": "6px",
    "dim_font_size": "14px",
    "dim_spacing_size": "16px",
    "font_family_body": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "font_family_heading": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
}


@router.get("/auth/style", include_in_schema=False)
async def style() -> Response:
    return JSONResponse(STYLE, headers={"Cache-Control": "public, max-age=3600"})
