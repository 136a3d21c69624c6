"""The workbench's plumbing: templates, the logged-in viewer, refusals, and each page's headers.

Every page is rendered by Jinja2 with autoescape on (HTML and SVG): whatever the store holds is
shown as text, never as markup.  Every URL a page, a redirect or a cookie names starts with the
root path a proxy serves drgate under (ASGI ``root_path``, uvicorn ``--root-path``): the pages'
``root``, ``root_of`` and ``redirect``.  Every answer carries a Content-Security-Policy that allows
nothing but drgate's own stylesheet (no script at all), is never cached and cannot be framed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from gateway.errors import PageRefused
from gateway.ui.access import Caller, KeyLookup, Viewer, may
from gateway.ui.session import COOKIE, Session, Sessions
from gateway.ui.words import reason_why, word

__all__ = ["HEADERS", "environment", "login_caller", "page", "redirect", "root_of", "viewer"]

HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def environment() -> Environment:
    env = Environment(loader=PackageLoader("gateway.ui", "templates"), autoescape=select_autoescape(("html", "svg")),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["word"] = word
    env.globals["reason_why"] = reason_why
    return env


def root_of(request: Request) -> str:
    """The prefix the browser sees before every path of drgate's (``/gw``), "" when served at ``/``."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` and ``root`` (each URL in a template starts with it)."""
    env: Environment = request.app.state.ui_templates
    body = env.get_template(template).render(root=root_of(request), **context)
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def redirect(request: Request, path: str, status: int = 303) -> RedirectResponse:
    """To ``path`` (``/ui/...``, as routed) where the browser finds it: under the root path."""
    return RedirectResponse(root_of(request) + path, status_code=status, headers=HEADERS)


def _keys(request: Request) -> KeyLookup | None:
    return getattr(request.app.state, "keys", None)


def login_caller(request: Request, key: str) -> Caller | None:
    """The holder of ``key`` among the keys this worker knows."""
    ring = _keys(request)
    return None if ring is None or not key else ring.find(key.encode())


def session_of(request: Request) -> tuple[Session, Caller] | None:
    """The request's live session and its key's holder; None: no session, or its key is gone."""
    sessions: Sessions = request.app.state.ui_sessions
    session = sessions.read(request.cookies.get(COOKIE))
    ring = _keys(request)
    if session is None or ring is None:
        return None
    try:
        caller = ring.by_digest(bytes.fromhex(session.digest))
    except ValueError:
        return None
    return None if caller is None else (session, caller)


def viewer(request: Request, need: str) -> Viewer:
    """Who is asking, if their key's role may do ``need``; else ``PageRefused`` (login, or 403)."""
    found = session_of(request)
    if found is None:
        raise PageRefused(redirect(request, "/ui/login"))
    session, caller = found
    sessions: Sessions = request.app.state.ui_sessions
    seen = Viewer(caller.name.removeprefix("key:"), caller.role, sessions.form_token(session))
    if not may(caller.role, need):
        raise PageRefused(page(request, "refused.html", 403, viewer=seen if may(caller.role, "read") else None,
                           message=f"{word(caller.role, 'role')} ({caller.role}) 角色的密钥不能进行此操作。"))
    return seen


def checked_form(request: Request, need: str, form: Any) -> Viewer:
    """``viewer`` for a form's POST, whose token must be this session's."""
    seen = viewer(request, need)
    found = session_of(request)
    sessions: Sessions = request.app.state.ui_sessions
    if found is None or not sessions.form_token_ok(found[0], form.get("csrf")):
        raise PageRefused(page(request, "refused.html", 403, viewer=seen,
                           message="表单已失效 (缺少或错误的表单令牌), 请返回重新提交。"))
    return seen


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
