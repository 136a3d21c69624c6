"""``/docs`` (Swagger UI) and ``/redoc`` served with their assets from drgate itself, no CDN.

A gateway on a closed network (医保专网) cannot reach a CDN, and FastAPI's own pages load
Swagger UI and ReDoc from one: they came up blank there.  The assets ship in the
``fastapi-offline`` wheel (Swagger UI dist and ReDoc standalone bundles); drgate serves that folder
under ``/docs-assets`` and points its pages at it.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS", "serve_docs"]

ASSETS = "/docs-assets"
_STATIC = Path(fastapi_offline.__file__).parent / "static"


def serve_docs(app: FastAPI) -> None:
    """Mount the assets and the two pages on ``app`` (created with ``docs_url=None, redoc_url=None``)."""
    app.mount(ASSETS, StaticFiles(directory=_STATIC), name="docs-assets")
    spec = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=spec, title=f"{app.title} - Swagger UI",
                                   swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url=spec, title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{ASSETS}/redoc.standalone.js", redoc_favicon_url=f"{ASSETS}/favicon.png",
                              with_google_fonts=False)
