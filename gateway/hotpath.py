"""The claim check served straight from ASGI, ahead of FastAPI.

``POST /v1/claims/check`` is the request a settlement pipeline makes for every claim, and on it
FastAPI's own machinery (telemetry switches read from the environment, route matching over every
route, dependency solving, request and response objects, middleware) cost more than the check
itself: ~25 µs of a one-line claim's ~40 µs, in-process (``bench/``, profiled).  ``GatewayApp``
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

from fastapi import FastAPI
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.routes import MAX_BODY, answer_check

__all__ = ["CHECK_PATH", "ClaimCheckEndpoint", "GatewayApp"]

log = logging.getLogger(__name__)

CHECK_PATH = "/v1/claims/check"
_JSON = (b"content-type", b"application/json")
_ERROR = b'{"detail":"internal error; see the gateway log"}'


class GatewayApp(FastAPI):
    """FastAPI, with the claim check dispatched before it (``check``, set by ``create_app``)."""

    check: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        check = self.check
        if (check is not None and scope["type"] == "http" and scope["path"] == CHECK_PATH
                and scope["method"] == "POST"):
            scope["app"] = self
            await check(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class ClaimCheckEndpoint:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        response_started = False

        async def respond(status: int, payload: bytes) -> None:
            nonlocal response_started
            response_started = True
            await send({"type": "http.response.start", "status": status,
                        "headers": [_JSON, (b"content-length", b"%d" % len(payload))]})
            await send({"type": "http.response.body", "body": payload})

        try:
            body = await _read_body(scope, receive)
            await respond(*await answer_check(scope["app"].state.gateway, body, started))
        except ClientDisconnect:  # the client went away mid-body: nobody to answer
            return
        except Exception:
            log.exception("claim check failed")
            if not response_started:
                await respond(500, _ERROR)


async def _read_body(scope: Scope, receive: Receive) -> bytes | None:
    """The body; None past ``MAX_BODY`` (→ 413, declared or streamed); ClientDisconnect if the client left."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            if value.isdigit() and int(value) > MAX_BODY:
                return None  # refused before reading a byte of it
            break
    message: Message = await receive()
    if message["type"] != "http.request":
        raise ClientDisconnect
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):  # the common case: one message
        return body if len(body) <= MAX_BODY else None
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
