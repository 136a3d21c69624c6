"""The agency's workbench (经办工作台): server-rendered pages at ``/ui/`` for officers and the help desk.

``mount_ui(app, settings)`` adds the pages (``gateway.ui.pages``), the stylesheet (every asset is
served by drgate: no CDN, no script) and the sessions (``gateway.ui.session``).  Who may do what
is the API key's role (``gateway.ui.access``); docs/workbench.md describes the pages.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from gateway.errors import PageRefused
from gateway.settings import Settings
from gateway.ui.pages import refused_handler, router
from gateway.ui.session import Sessions
from gateway.ui.web import environment

__all__ = ["mount_ui"]

log = logging.getLogger(__name__)


def mount_ui(app: FastAPI, settings: Settings) -> None:
    if settings.ui_secret is not None:
        secret = settings.ui_secret.get_secret_value().encode()
    else:  # sessions last as long as this process (`drgate serve --workers N` shares one: gateway.cli)
        secret = secrets.token_bytes(32)
    app.state.ui_sessions = Sessions(secret, settings.ui_session_hours * 3600, secure=settings.ui_secure_cookie)
    app.state.ui_templates = environment()
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=Path(__file__).parent / "static"), name="ui-static")
    app.add_exception_handler(PageRefused, refused_handler)
