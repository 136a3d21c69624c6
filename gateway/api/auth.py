"""Callers' API keys: with ``DRGATE_API_KEYS`` set, every ``/v1/`` request needs a known key.

A pure ASGI wrapper (no ``BaseHTTPMiddleware``: one function call and a SHA-256 per request),
added only when keys are configured.  The key comes in ``X-API-Key: <key>`` or
``Authorization: Bearer <key>``.  Settings hold SHA-256 hex digests, never the keys: the
presented key is hashed and compared with every digest in constant time (``hmac.compare_digest``,
no early exit), so neither the environment nor timing gives a key away.  Keys are never logged.

The guard names the caller for the decision log: ``scope["drgate.caller"]`` is ``key:`` and the
first 12 hex digits of the matching digest (``gateway.decisionlog.entries.caller_name``), never the key.

``/healthz``, ``/readyz``, ``/metrics`` and the OpenAPI document stay open: probes and scrapers
carry no key, and none of them reveals a physician's state.  The guard decides on the routed path:
served under a root path (``--root-path /gw``), ASGI's ``path`` carries the prefix, ``/gw/v1/…``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.decisionlog.entries import caller_name
from gateway.observe.logs import REQUEST_ID
from gateway.observe.metrics import front_of

__all__ = ["CALLER", "PROTECTED_PREFIX", "ApiKeyGuard", "digest_of", "new_key", "routed_path"]

#: The ASGI scope's key for the caller's name, set by ``ApiKeyGuard`` (absent when keys are off).
CALLER = "drgate.caller"

# Every caller-facing route: the v1 API and the national-platform adapter. Probes stay open.
PROTECTED_PREFIX = ("/v1/", "/nhsa/")
_BODY = b'{"detail":"a valid API key is required (X-API-Key or Authorization: Bearer)"}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode()),
            (b"www-authenticate", b'Bearer realm="drgate"')]


def routed_path(scope: Scope) -> str:
    """The path the application routes on: ``scope["path"]`` less the ``root_path`` it starts with."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("/", ""):
        return path[len(root):]
    return path


def digest_of(key: str) -> str:
    """What ``DRGATE_API_KEYS`` holds for ``key``: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key (256 random bits, URL-safe) and its digest."""
    key = secrets.token_urlsafe(32)
    return key, digest_of(key)


#: A front's own refusal body for a path (the national platform's envelope on ``/nhsa/``), or None.
Refusal = Callable[[str], bytes | None]


class ApiKeyGuard:
    def __init__(self, app: ASGIApp, digests: tuple[str, ...], refusal: Refusal | None = None) -> None:
        self.app = app
        self.digests = tuple(bytes.fromhex(d) for d in digests)
        self.refusal = refusal
        self.names = tuple(caller_name(d) for d in digests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not routed_path(scope).startswith(PROTECTED_PREFIX):
            await self.app(scope, receive, send)
            return
        caller = self._caller(scope)
        if caller is not None:
            scope[CALLER] = caller
            await self.app(scope, receive, send)
            return
        state = getattr(scope["app"].state, "gateway", None) if "app" in scope else None
        if state is not None:
            state.metrics.auth_refused.inc()
            state.metrics.refuse(front_of(routed_path(scope)), "unauthorized")
        request_id = REQUEST_ID.get()
        ids = [] if request_id is None else [(b"x-request-id", request_id)]
        body = self.refusal(routed_path(scope)) if self.refusal is not None else None
        if body is None:
            await send({"type": "http.response.start", "status": 401, "headers": [*_HEADERS, *ids]})
            await send({"type": "http.response.body", "body": _BODY})
            return
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   _HEADERS[2], *ids]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _caller(self, scope: Scope) -> str | None:
        """The caller's name when the presented key is known, else None."""
        key = _presented(scope["headers"])
        if key is None:
            return None
        digest = hashlib.sha256(key).digest()
        found = -1
        for n, d in enumerate(self.digests):  # every one, whatever matched: the time does not tell which
            found = max(found, n if hmac.compare_digest(d, digest) else -1)
        return self.names[found] if found >= 0 else None


def _presented(headers: Any) -> bytes | None:
    for name, value in headers:
        if name == b"x-api-key":
            return bytes(value) or None
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return bytes(value[7:]).strip() or None
    return None
