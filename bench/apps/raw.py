"""(a') The raw ASGI floor: drgate's work minus validation and lookup, as a plain ASGI callable.

The body is read from the ASGI messages and parsed with orjson; every line gets a contract-shaped
``pass`` (drgate's answer: claim, decision id, snapshot, lines with every field) and the answer
goes out as two ASGI messages with a content type and length.  No FastAPI, no Starlette, no
validation, no lookup, no metrics, no decision log: on the same uvicorn (uvloop, httptools, one
worker) this is the most an app answering the contract can do, so drgate's figures are read
against it.  ``bench.apps.floor`` is the same work through FastAPI, which drgate's hot path skips.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

__all__ = ["CHECK_PATH", "create_app"]

CHECK_PATH = "/v1/claims/check"

_SNAPSHOT = {"id": "0" * 32, "version": 1, "published_at": "2026-11-23T00:00:00.000+00:00"}
_JSON = (b"content-type", b"application/json")
_NOT_FOUND = b'{"detail":"Not Found"}'

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def _body(receive: Receive) -> bytes:
    """The request body, however many messages it came in."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


def answer(claim: dict[str, Any], decision_id: str) -> dict[str, Any]:
    """Every line passed: the answer's shape and size, nothing decided."""
    lines = [{"line_id": line["line_id"], "physician_code": line["physician_code"], "decision": "pass",
              "reason": "ok", "basis": None, "until": None, "ban_until": None, "flags": [], "would_reject": None}
             for line in claim["lines"]]
    return {"claim_id": claim["claim_id"], "decision": "pass", "decision_id": decision_id, "snapshot": _SNAPSHOT,
            "enforced": True, "lines": lines}


async def _respond(send: Send, status: int, payload: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [_JSON, (b"content-length", b"%d" % len(payload))]})
    await send({"type": "http.response.body", "body": payload})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app() -> Callable[[Message, Receive, Send], Awaitable[None]]:
    ids = itertools.count()

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST" or scope["path"] != CHECK_PATH:
            await _respond(send, 404, _NOT_FOUND)
            return
        claim = orjson.loads(await _body(receive))
        await _respond(send, 200, orjson.dumps(answer(claim, f"{next(ids):032x}")))

    return app
