"""Request bodies read from the ASGI messages, within a size limit and a per-worker budget.

A body that arrives whole in its first message (every claim of a settlement pipeline on a LAN)
is returned as is: no accounting, nothing copied.  A body still arriving holds memory for as
long as its client takes, so it must fit, beside every other unfinished body of the worker, in
``BodyBudget``: its declared ``Content-Length`` is reserved before anything more is buffered
(one buffer of that size, filled in place: one allocation, freed whole), a chunked body's bytes
as they come.  Past the budget the request is refused with 503 (``BodyBudgetExceeded``); past the
route's limit with 413 (``BodyTooLarge``), a declared length before a byte is read.  The time a
body may take is bounded by the server (``gateway.api.front``): a late client's ``receive`` says it
left (``ClientDisconnect``).
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope

from gateway.errors import BodyBudgetExceeded, BodyTooLarge

__all__ = ["BodyBudget", "read_body"]


class BodyBudget:
    """Bytes one worker holds for unfinished bodies, at most ``limit`` (``DRGATE_BODY_BUFFER_BYTES``)."""

    __slots__ = ("held", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, n: int) -> None:
        if self.held + n > self.limit:
            raise BodyBudgetExceeded
        self.held += n


def _declared(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def read_body(scope: Scope, receive: Receive, limit: int, budget: BodyBudget | None = None) -> bytes | bytearray:
    """The whole body, or ``BodyRefused``; ``ClientDisconnect`` if the client leaves (or is timed out)
    first.  The hot path calls it with its own messages, FastAPI's routes with ``request.receive``."""
    declared = _declared(scope)
    if declared is not None and declared > limit:
        raise BodyTooLarge(limit)  # refused before reading a byte of it
    message = await receive()
    if message["type"] != "http.request":
        raise ClientDisconnect
    first: bytes = message.get("body", b"")
    if not message.get("more_body", False):  # the common case: the whole body in one message
        if len(first) > limit:
            raise BodyTooLarge(limit)
        return first
    budget = budget or BodyBudget(limit)
    if declared is not None:
        budget.take(declared)
        try:
            return await _fill(bytearray(declared), first, receive)
        finally:
            budget.held -= declared
    buffer = bytearray()
    try:
        chunk = first
        while True:  # chunked: each piece counted as it comes
            if len(buffer) + len(chunk) > limit:
                raise BodyTooLarge(limit)
            budget.take(len(chunk))
            buffer += chunk
            if not message.get("more_body", False):
                return buffer
            message = await receive()
            if message["type"] != "http.request":
                raise ClientDisconnect
            chunk = message.get("body", b"")
    finally:
        budget.held -= len(buffer)


async def _fill(buffer: bytearray, first: bytes, receive: Receive) -> bytearray:
    """A declared body, copied into its buffer in place as its messages come."""
    size = len(first)
    buffer[:size] = first
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        buffer[size:size + len(chunk)] = chunk
        size += len(chunk)
        if not message.get("more_body", False):
            return buffer if size == len(buffer) else buffer[:size]
