"""The claim check served straight from ASGI, ahead of FastAPI; every request's id.

``POST /v1/claims/check`` is the request a settlement pipeline makes for every claim, and on it
FastAPI's own machinery (telemetry switches read from the environment, route matching over every
route, dependency solving, request and response objects, middleware) cost more than the check
itself: a one-line claim took 64 µs through FastAPI's route and takes 14 µs here, a 20-line claim
131 µs against 58 (``python -m bench.asgi``, in-process, no server).  ``GatewayApp``
hands that one request to ``ClaimCheckEndpoint``, which answers from the ASGI messages with the
same core as the FastAPI route (``gateway.api.v1.answer_check``, over ``CheckService``): same body
limit, same 422 naming the field, same answer, metrics and decision log.  Everything else, the
check under any other method included, goes through FastAPI, which also keeps documenting the check in OpenAPI.

Every HTTP request gets an id: the caller's ``X-Request-ID`` when it is 1–128 printable ASCII
characters, else one made here (a per-worker random prefix and a counter, ~0.2 µs).  It is
returned in the response's ``X-Request-ID`` and carried by every log line of the request
(``gateway.observe.logs``).  With ``DRGATE_ACCESS_LOG=true`` each request also logs one line on
``drgate.access`` (method, route, status, milliseconds; the decision id from the line's context).

The endpoint sits behind its own ``ApiKeyGuard`` (``gateway.api.auth``), as FastAPI's routes sit
behind theirs: one table of roles for both.  An unexpected error is logged and answered 500, as Starlette would.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import secrets
import time

import orjson
from fastapi import FastAPI
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.auth import CALLER, routed_path
from gateway.api.bodies import BodyBudget, read_body
from gateway.api.v1 import CHECK_PATH, MAX_BODY, answer_check
from gateway.errors import BodyRefused
from gateway.observe.logs import REQUEST_ID
from gateway.state import GatewayState

__all__ = ["ClaimCheckEndpoint", "GatewayApp"]

log = logging.getLogger(__name__)
access = logging.getLogger("drgate.access")

_JSON = (b"content-type", b"application/json")
_CLOSE = (b"connection", b"close")
_ERROR = b'{"detail":"internal error; see the gateway log"}'
_HEADER = b"x-request-id"
_VALID_ID = re.compile(rb"[\x21-\x7e]{1,128}")  # printable, no space: safe in a log line and a header


class GatewayApp(FastAPI):
    """FastAPI, with the claim check (``check``) and the national platform's transactions
    (``ahead``: path → endpoint, ``gateway.formats.nhsa.routes``) dispatched before it, both POST only;
    set by ``create_app``."""

    check: ASGIApp | None = None
    ahead: dict[str, ASGIApp] = {}  # replaced by create_app, never mutated
    #: The worker's state, as ``state.gateway`` (set by the lifespan): read here as a plain attribute,
    #: since Starlette's ``State`` answers an attribute after a failed lookup's AttributeError (~1 µs).
    gateway: GatewayState | None = None
    bodies: BodyBudget  # the worker's budget of bytes for unfinished bodies (gateway.api.bodies), set by create_app
    access_log = False
    _ids: itertools.count[int] | None = None
    _id_prefix = b""

    def _request_id(self, scope: Scope) -> bytes:
        for name, value in scope["headers"]:
            if name == _HEADER:
                if _VALID_ID.fullmatch(value):
                    return bytes(value)
                break
        if self._ids is None:  # per worker process: workers are spawned after create_app
            self._ids, self._id_prefix = itertools.count(1), f"{secrets.token_hex(4)}{os.getpid():x}-".encode()
        return b"%s%x" % (self._id_prefix, next(self._ids))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request_id = self._request_id(scope)
        REQUEST_ID.set(request_id)  # this request's task only: each runs in its own context
        if self.access_log:
            await self._logged(scope, receive, send, request_id)
            return
        endpoint = self._ahead(scope)
        if endpoint is not None:  # awaited here, not through _dispatch: a coroutine less a check
            await endpoint(scope, receive, send)  # it sends X-Request-ID itself
            return
        await self._fastapi(scope, receive, send, request_id)

    def _ahead(self, scope: Scope) -> ASGIApp | None:
        """The endpoint answering this request ahead of FastAPI, if any (``scope["app"]`` set for it)."""
        if scope["method"] != "POST":
            return None
        path = routed_path(scope)  # served under a root path, ``path`` carries it
        endpoint = self.check if path == CHECK_PATH else self.ahead.get(path)
        if endpoint is not None:
            scope["app"] = self
        return endpoint

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, request_id: bytes) -> None:
        endpoint = self._ahead(scope)
        if endpoint is not None:
            await endpoint(scope, receive, send)
            return
        await self._fastapi(scope, receive, send, request_id)

    async def _fastapi(self, scope: Scope, receive: Receive, send: Send, request_id: bytes) -> None:
        """FastAPI's answer, its X-Request-ID added."""

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name == _HEADER for name, _ in headers):
                    headers.append((_HEADER, request_id))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_with_id)

    async def _logged(self, scope: Scope, receive: Receive, send: Send, request_id: bytes) -> None:
        started = time.perf_counter()
        status = [0]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self._dispatch(scope, receive, send_status, request_id)
        finally:
            access.info("%s %s %d %.2f ms", scope["method"], _route(routed_path(scope)), status[0],
                        (time.perf_counter() - started) * 1000)


def _route(path: str) -> str:
    """The path as logged: a physician's code in a status lookup or a history becomes ``{code}``."""
    if path.startswith("/v1/physicians/"):
        return "/v1/physicians/{code}"
    if path.startswith("/admin/v1/physicians/"):
        return "/admin/v1/physicians/{code}/history"
    return path


class ClaimCheckEndpoint:
    def __init__(self, bodies: BodyBudget) -> None:
        self.bodies = bodies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = [_JSON]
        app = scope["app"]
        state: GatewayState = app.gateway if isinstance(app, GatewayApp) and app.gateway else app.state.gateway
        try:
            body = await read_body(scope, receive, MAX_BODY, self.bodies)
            status, payload = await answer_check(state, body, started, scope.get(CALLER))
        except ClientDisconnect:  # the client went away mid-body, or was timed out: nobody to answer
            return
        except BodyRefused as exc:
            state.metrics.refuse("v1", "too_large" if exc.status == 413 else "busy")
            status, payload = exc.status, orjson.dumps({"detail": exc.detail})
            headers.append(_CLOSE)
        except Exception:
            log.exception("claim check failed")
            status, payload = 500, _ERROR
        headers.append((b"content-length", b"%d" % len(payload)))
        headers.append((_HEADER, REQUEST_ID.get() or b""))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
