"""Callers' API keys and their roles: every ``/v1/``, ``/nhsa/`` and ``/admin/`` request is checked here.

A pure ASGI wrapper (no ``BaseHTTPMiddleware``: one function call and a SHA-256 per request) in
front of FastAPI's routes, of the claim check served ahead of them and of each ``/nhsa/``
transaction.  The key comes in ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``, never in
a URL.  A worker knows keys by their SHA-256 only (``KeyRing``): the digests of
``DRGATE_API_KEYS`` (role ``settlement``) and the keys of the store published with the snapshot
(``rules.store.api_keys``, ``cache.sync``), replaced at every sync without a restart.  The
presented key is hashed and its digest looked up (one dict probe, whatever the number of keys):
the time a probe takes depends on the digest, which a caller cannot steer towards a known one
without a preimage of SHA-256, so timing gives no key away; neither does the environment, which
holds digests only.  Keys are never logged.

What a request needs is ``gateway.api.roles.need_of`` (one table): without a known key 401, with
a key whose role is not granted the need 403; on ``/nhsa/`` both in the platform's envelope.
While no key is known at all (none configured, the store never held one, ``DRGATE_REQUIRE_API_KEYS``
off) checks and reads are open as before keys existed; writing, publishing and keys never are.

The guard names the caller: ``scope["drgate.caller"]`` is ``key:<name>`` for a store key,
``key:`` and the first 12 hex digits of the digest for a ``DRGATE_API_KEYS`` one
(``gateway.decisionlog.entries.caller_name``), never the key; ``scope["drgate.role"]`` its role.
It decides on the routed path: served under a root path (``--root-path /gw``), ASGI's ``path``
carries the prefix, ``/gw/v1/…``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.roles import ANY, CHECK, GRANTS, PROTECTED, READ, allowed, need_of
from gateway.decisionlog.entries import caller_name
from gateway.observe.logs import REQUEST_ID
from gateway.observe.metrics import front_of
from rules.store.api_keys import digest_of, new_key

__all__ = ["CALLER", "PROTECTED_PREFIX", "ROLE", "ApiKeyGuard", "Caller", "KeyRing", "digest_of", "new_key",
           "require", "routed_path"]

log = logging.getLogger(__name__)

#: The ASGI scope's key for the caller's name, set by ``ApiKeyGuard`` (absent for an unkeyed request).
CALLER = "drgate.caller"
#: The ASGI scope's key for the caller's role.
ROLE = "drgate.role"

PROTECTED_PREFIX = PROTECTED
_UNAUTHORISED = "a valid API key is required (X-API-Key or Authorization: Bearer)"
_OPEN_WITHOUT_KEYS = (CHECK, READ, ANY)  # while no key is known: as before keys existed


def routed_path(scope: Scope) -> str:
    """The path the application routes on: ``scope["path"]`` less the ``root_path`` it starts with."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("/", ""):
        return path[len(root):]
    return path


@dataclass(frozen=True, slots=True)
class Caller:
    """Who presented a key: ``name`` as logged (``key:…``), and the key's ``role``."""

    name: str
    role: str


class KeyRing:
    """The keys this worker knows, by digest: configured (``DRGATE_API_KEYS``) and published."""

    def __init__(self, configured: tuple[str, ...] = (), *, required: bool = False) -> None:
        self._configured = tuple((bytes.fromhex(d), Caller(caller_name(d), "settlement")) for d in configured)
        self._callers = dict(self._configured)  # digest -> caller
        self.required = required
        self.published_id: bytes | None = None  # the table's id in meta (``cache.sync``), as last installed
        self.keyless = self._keyless()

    @property
    def enforced(self) -> bool:
        """Whether every protected request needs a key (else checks and reads are open): keys are
        configured, or the store's are published (even none live: every one revoked)."""
        return self.required or bool(self._configured) or self.published_id is not None

    def install(self, published: Mapping[bytes, bytes], table_id: bytes | None = None) -> None:
        """Replace the published keys (digest hex → ``{"name", "role"}`` JSON, ``cache.callers``)."""
        entries = [entry for digest, value in published.items() if (entry := _published(digest, value)) is not None]
        callers = dict(self._configured)
        callers.update(entries)  # a digest both published and configured: the store's role
        self._callers = callers
        self.published_id = table_id
        self.keyless = self._keyless()

    def _keyless(self) -> bool:
        """No key known and none required: no presented key can name a caller, and checks and reads are open."""
        return not self._callers and not self.enforced

    def find(self, key: bytes) -> Caller | None:
        """The caller whose key this is, else None (see the module's note on timing)."""
        return self._callers.get(hashlib.sha256(key).digest())

    def by_digest(self, digest: bytes) -> Caller | None:
        """The caller whose key has this SHA-256 (the workbench's session carries it, signed), else None."""
        return self._callers.get(digest)


def require(need: str) -> Callable[[Request], Caller]:
    """A FastAPI dependency for a route the guard does not stand before (a page behind a session):
    the caller named in the scope (``CALLER``, ``ROLE``: set by the guard, or by whoever resolved
    the session's key with ``KeyRing.find``) may do ``need``; else 401 or 403."""

    def caller(request: Request) -> Caller:
        name, role = request.scope.get(CALLER), request.scope.get(ROLE)
        if name is None or role is None:
            raise HTTPException(401, _UNAUTHORISED, headers={"www-authenticate": 'Bearer realm="drgate"'})
        if not allowed(role, need):
            raise HTTPException(403, f"a key of role {role} may not {need} here")
        return Caller(name, role)

    return caller


#: A front's own refusal body for a path and a message (the national platform's envelope on ``/nhsa/``), or None.
Refusal = Callable[[str, str], bytes | None]


class ApiKeyGuard:
    """Before FastAPI's routes (``path`` None: each request's need looked up), or before one
    endpoint served ahead of them at ``method`` ``path`` (its need looked up once, here)."""

    def __init__(self, app: ASGIApp, ring: KeyRing, refusal: Refusal | None = None, *, path: str | None = None,
                 method: str = "POST") -> None:
        self.app = app
        self.ring = ring
        self.refusal = refusal
        self.path = path
        self.need = None if path is None else need_of(method, path)
        self._open = self.need is None or self.need in _OPEN_WITHOUT_KEYS  # while the ring is keyless

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        need = self.need
        if need is not None:  # before one endpoint, which the app dispatched on its method and path
            if self.ring.keyless and self._open:  # no key known: nothing to find, nothing to refuse
                await self.app(scope, receive, send)
                return
            path = self.path or ""
        else:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            path = routed_path(scope)
            need = need_of(scope["method"], path)
            if need is None:
                await self.app(scope, receive, send)
                return
        key = _presented(scope["headers"])
        caller = None if key is None else self.ring.find(key)
        if caller is None:
            if not self.ring.enforced and need in _OPEN_WITHOUT_KEYS:
                await self.app(scope, receive, send)
                return
            await self._refuse(scope, send, path, 401, "unauthorized", _UNAUTHORISED)
            return
        if not allowed(caller.role, need):
            await self._refuse(scope, send, path, 403, "forbidden",
                               f"a key of role {caller.role} may not {need} here; ask for a key of a role that may")
            return
        scope[CALLER] = caller.name
        scope[ROLE] = caller.role
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, path: str, status: int, cause: str, message: str) -> None:
        state = getattr(scope["app"].state, "gateway", None) if "app" in scope else None
        if state is not None:
            if status == 401:
                state.metrics.auth_refused.inc()
            state.metrics.refuse(front_of(path), cause)
        request_id = REQUEST_ID.get()
        body = self.refusal(path, message) if self.refusal is not None else None
        if body is None:
            body = orjson.dumps({"detail": message})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="drgate"'))
        if request_id is not None:
            headers.append((b"x-request-id", request_id))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _published(digest: bytes, value: bytes) -> tuple[bytes, Caller] | None:
    """One published key as (digest, caller); None, and a warning, for one this drgate cannot use."""
    try:
        fields = orjson.loads(value)
        entry = bytes.fromhex(digest.decode()), Caller(f"key:{fields['name']}", fields["role"])
    except (ValueError, KeyError, TypeError):
        log.warning("a published API key could not be read; it is ignored")
        return None
    if entry[1].role not in GRANTS:
        log.warning("a published API key has role %r, unknown to this drgate; it is ignored", entry[1].role)
        return None
    return entry


def _presented(headers: Any) -> bytes | None:
    for name, value in headers:
        if name == b"x-api-key":
            return bytes(value) or None
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return bytes(value[7:]).strip() or None
    return None
