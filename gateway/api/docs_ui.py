"""``/docs`` (Swagger UI) and ``/redoc`` served with their assets from drgate itself, no CDN.

A gateway on a closed network (医保专网) cannot reach a CDN, and FastAPI's own pages load
Swagger UI and ReDoc from one: they came up blank there.  The assets ship in the
``fastapi-offline`` wheel (Swagger UI dist and ReDoc standalone bundles); drgate serves that folder
under ``/docs-assets`` and points its pages at it, under the root path a proxy serves drgate at
(ASGI ``root_path``, uvicorn ``--root-path``): the browser finds the assets and the document there.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
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
    async def swagger(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(openapi_url=root + spec, title=f"{app.title} - Swagger UI",
                                   swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{ASSETS}/favicon.png")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(openapi_url=root + spec, title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{ASSETS}/favicon.png", with_google_fonts=False)


def _root(request: Request) -> str:
    """The prefix the browser sees before drgate's paths (``/gw``), "" when served at ``/``."""
    return str(request.scope.get("root_path", "")).rstrip("/")
