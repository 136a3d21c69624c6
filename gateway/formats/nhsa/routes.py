"""``POST /nhsa/{infno}``: the national platform's transactions over HTTP, served ahead of FastAPI.

The platform answers every request with HTTP 200 and says in ``infcode`` whether it was processed
(0) or not (-1, ``err_msg`` says why); HIS code branches on ``infcode``, so these routes do the
same.  Only a body over the size limit (413), a missing API key (401) and an internal error (500)
get another status, each still with the platform's envelope as body.

``NhsaEndpoint`` answers straight from the ASGI messages (``gateway.api.hotpath.GatewayApp`` hands
the five paths to it, as it hands the claim check to its endpoint); the FastAPI routes document
them in OpenAPI and answer the same way when the app is mounted under another path.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from gateway.api.auth import CALLER
from gateway.api.bodies import read_body
from gateway.check.status import CHINA
from gateway.errors import BodyRefused, BodyTooLarge
from gateway.formats.nhsa.front import Forwarded, NhsaFront
from gateway.formats.nhsa.handlers import TRANSACTIONS, answer
from gateway.formats.nhsa.openapi import operation
from gateway.observe.logs import REQUEST_ID

__all__ = ["MAX_BODY", "NhsaEndpoint", "endpoints", "router"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["national platform (国家医保信息平台)"])

MAX_BODY = 4 << 20  # 4 MiB: 1000 full 2204 lines (~30 fields each) stay under 1 MiB; room for padding


async def _respond(scope: Scope, receive: Receive, infno: str) -> Forwarded:
    received = datetime.now(CHINA)
    started = time.perf_counter()
    app = scope["app"]
    front: NhsaFront = app.state.nhsa
    try:
        try:
            read = await read_body(scope, receive, MAX_BODY, app.bodies)
            body: bytes | None = read if isinstance(read, bytes) else bytes(read)  # a body that came in pieces
        except BodyTooLarge:
            body = None  # answer() says so in the platform's words
        except BodyRefused as exc:  # the worker's budget of unfinished bodies is spent: retry
            return front.envelope(front.responder.failure(exc.detail, received), exc.status)
        # the hot path's plain attribute (gateway.api.hotpath): Starlette's State answers after an AttributeError
        state = getattr(app, "gateway", None) or app.state.gateway
        return await answer(state, front, infno, body, scope["headers"], received, started, scope.get(CALLER))
    except ClientDisconnect:
        raise
    except Exception:
        log.exception("nhsa %s failed", infno)
        return front.envelope(front.responder.failure("internal error; see the gateway log", received), 500)


class NhsaEndpoint:
    def __init__(self, infno: str) -> None:
        self.infno = infno

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            out = await _respond(scope, receive, self.infno)
        except ClientDisconnect:  # the client went away mid-body: nobody to answer
            return
        headers = [*out.headers, (b"content-length", b"%d" % len(out.body))]
        # drgate's own envelope, or the platform's answer without its own request id
        if out.own or not any(name.lower() == b"x-request-id" for name, _ in out.headers):
            headers.append((b"x-request-id", REQUEST_ID.get() or b""))
        await send({"type": "http.response.start", "status": out.status, "headers": headers})
        await send({"type": "http.response.body", "body": out.body})


def endpoints() -> dict[str, NhsaEndpoint]:
    """Path → endpoint, for ``GatewayApp`` to dispatch ahead of FastAPI."""
    return {f"/nhsa/{infno}": NhsaEndpoint(infno) for infno in TRANSACTIONS}


def _route(infno: str) -> None:
    async def endpoint(request: Request) -> Response:
        scope = dict(request.scope)
        scope["app"] = request.app
        try:
            out = await _respond(scope, request.receive, infno)
        except ClientDisconnect:
            return Response(status_code=499)
        return Response(out.body, status_code=out.status, headers={k.decode(): v.decode() for k, v in out.headers})

    router.add_api_route(f"/nhsa/{infno}", endpoint, methods=["POST"], **operation(infno))


for _infno in TRANSACTIONS:
    _route(_infno)
