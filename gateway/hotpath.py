"""The claim check served straight from ASGI, ahead of FastAPI.

``POST /v1/claims/check`` is the request a settlement pipeline makes for every claim, and on it
FastAPI's own machinery (telemetry switches read from the environment, route matching over every
route, dependency solving, request and response objects, middleware) cost more than the check
itself: a one-line claim took 64 µs through FastAPI's route and takes 14 µs here, a 20-line claim
131 µs against 58 (``python -m bench.asgi``, in-process, no server).  ``GatewayApp``
hands that one request to ``ClaimCheckEndpoint``, which answers from the ASGI messages with the
same core as the FastAPI route (``routes.answer_check``): same body limit, same 422 naming the
field, same answer, metrics and decision log.  Everything else, the check under any other method
included, goes through FastAPI, which also keeps documenting the check in OpenAPI.

With ``DRGATE_API_KEYS`` set, the endpoint sits behind its own ``ApiKeyGuard``, as FastAPI's
routes sit behind theirs.  An unexpected error is logged and answered 500, as Starlette would.
"""

from __future__ import annotations

import logging
import time

import orjson
from fastapi import FastAPI
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth import CALLER, routed_path
from gateway.bodies import BodyBudget, BodyRefused, read_body
from gateway.routes import CHECK_PATH, MAX_BODY, answer_check

__all__ = ["ClaimCheckEndpoint", "GatewayApp"]

log = logging.getLogger(__name__)

_JSON = (b"content-type", b"application/json")
_CLOSE = (b"connection", b"close")
_ERROR = b'{"detail":"internal error; see the gateway log"}'


class GatewayApp(FastAPI):
    """FastAPI, with the claim check (``check``) and the national platform's transactions
    (``ahead``: path → endpoint, ``gateway.nhsa.routes``) dispatched before it, both POST only;
    set by ``create_app``."""

    check: ASGIApp | None = None
    ahead: dict[str, ASGIApp] = {}  # replaced by create_app, never mutated
    bodies: BodyBudget  # the worker's budget of bytes for unfinished bodies (gateway.bodies), set by create_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = routed_path(scope)  # served under a root path, ``path`` carries it
            endpoint = self.check if path == CHECK_PATH else self.ahead.get(path)
            if endpoint is not None:
                scope["app"] = self
                await endpoint(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class ClaimCheckEndpoint:
    def __init__(self, bodies: BodyBudget) -> None:
        self.bodies = bodies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = [_JSON]
        try:
            body = await read_body(scope, receive, MAX_BODY, self.bodies)
            status, payload = await answer_check(scope["app"].state.gateway, body, started, scope.get(CALLER))
        except ClientDisconnect:  # the client went away mid-body, or was timed out: nobody to answer
            return
        except BodyRefused as exc:
            status, payload = exc.status, orjson.dumps({"detail": exc.detail})
            headers.append(_CLOSE)
        except Exception:
            log.exception("claim check failed")
            status, payload = 500, _ERROR
        headers.append((b"content-length", b"%d" % len(payload)))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
