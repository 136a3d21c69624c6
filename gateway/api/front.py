"""The HTTP front's limits in `drgate serve`: what a slow or hostile client may hold of a worker.

uvicorn bounds the idle time between requests (``timeout_keep_alive``, which the sweeper below
keeps here) and the requests in flight (``limit_concurrency``), but not the time a client takes
to send its head or its body, nor the size of the head: 1,500 clients trickling 1 MB bodies held
a worker at 1.5 GB.  So

- ``FrontProtocol`` (uvicorn's httptools protocol, extended) gives every request a deadline: its
  head within ``header_timeout`` of its first byte (or of the connection, for the first request),
  its body within ``body_timeout`` of the head.  Past it the client gets 408 and the connection
  is closed; the application's ``receive`` then says the client left.  A head over
  ``max_header_bytes`` gets 431.  A connection over ``max_connections`` gets 503 and is closed.
  An answered connection idle for ``timeout_keep_alive`` is closed, quietly: that too is a
  deadline here, where uvicorn armed a timer after every response and cancelled it at the next
  request's first bytes (with ``is_closing`` asked of the corked transport directly, not through
  ``__getattr__``: +12 % req/s at 1 line, +1 to +6 % at 20, ``python -m bench.served_ab``,
  BENCHMARKS.md).
- When the open connections fall to half of what they were (from ``_CROWD`` up), the sweeper
  trims the heap (``malloc_trim``), so the worker's RSS comes back to where it was.
- Responses are written at the end of the event loop's turn (``coalesce_writes``): what every
  connection's requests answered in one turn goes out together, one ``write`` per connection,
  after the turn's work.  Written at once, each response woke the client alone; together, a
  client busy with many connections reads them in one wake-up.  Under 32 keep-alive connections
  this cut the worker's system time a request from 17.7 to 6.2 µs and lifted a 1-line claim from
  14,267 to 19,268 req/s, p99 4.27 → 2.20 ms (``make bench``, drgate-direct against drgate;
  BENCHMARKS.md).  A response is held for at most the rest of the turn; one over ``_CORK_BYTES``
  goes out at once (the transport's own flow control then applies); a close writes what is held
  first; a connection whose write fails is aborted, the turn's others still written.
- One sweeper per worker checks the deadlines (the keep-alive's too) twice a second and keeps
  the clock they are set from (``_Sweeper.now``): a request costs a few attribute stores, no
  timer and no clock read of its own (a clock read is 0.4 µs on this machine; deadlines are good
  to half a second).

The bytes buffered for unfinished bodies are bounded by the application (``gateway.api.bodies``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from gateway.settings import Settings

__all__ = ["FrontConfig", "FrontLimits", "FrontProtocol", "serve"]

log = logging.getLogger(__name__)

_SWEEP_SECONDS = 0.5
_CROWD = 32  # open connections from which a fall by half trims the heap
_TRIM_SECONDS = 5.0
_CORK_BYTES = 64 * 1024  # held for a connection past this, its bytes go out at once


@dataclass(frozen=True, slots=True)
class FrontLimits:
    header_timeout: float  # s, from a request's first byte (or the connection) to the end of its head
    body_timeout: float  # s, from the end of the head to the end of the body
    max_header_bytes: int
    max_connections: int
    coalesce_writes: bool = True  # a turn's responses written together at its end

    @classmethod
    def from_settings(cls, settings: Settings) -> FrontLimits:
        return cls(settings.header_timeout, settings.body_timeout, settings.max_header_bytes,
                   settings.max_connections, settings.coalesce_writes)


def serve(app: Any, settings: Settings, *, host: str, port: int, workers: int,
          log_config: dict[str, Any] | None = None) -> bool:
    """Run ``app`` (an application, or with ``workers`` > 1 the import string of its factory) as
    ``uvicorn.run`` would, behind the front's limits; False if it could not start."""
    config = FrontConfig(app, limits=FrontLimits.from_settings(settings), host=host, port=port, workers=workers,
                         factory=workers > 1, loop="uvloop", timeout_keep_alive=settings.keep_alive_timeout,
                         root_path=settings.root_path,
                         access_log=False, log_config=log_config,  # applied again in each worker
                         log_level=None if log_config is not None else "warning")
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return True
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return server.started


def _response(status: bytes, detail: bytes) -> bytes:
    body = b'{"detail":"%s"}' % detail
    return (b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, len(body), body))


_TIMEOUT = _response(b"408 Request Timeout", b"the request was not received in time")
_HEAD_TOO_LARGE = _response(b"431 Request Header Fields Too Large", b"request head too large")
_BUSY = _response(b"503 Service Unavailable", b"too many connections to this worker; retry")


class FrontProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on each request's head and body."""

    _sweepers: ClassVar[dict[int, _Sweeper]] = {}  # id() of a server's connection set → its sweeper
    _corks: ClassVar[dict[int, _Cork]] = {}  # id() of a server's connection set → its write queue

    def __init__(self, config: FrontConfig, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = config.limits
        self.sweeper: _Sweeper | None = None
        self.deadline: float | None = None  # loop time; None: the request is in (or none has begun)
        self.idle = False  # answered, waiting for the next request: the deadline is the keep-alive's
        self.in_head = True
        self.head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if self.limits.coalesce_writes:
            cork = _of_server(self._corks, self.connections, lambda: _Cork(self.loop, self.connections))
            transport = _CorkedTransport(transport, cork)  # type: ignore[assignment]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            transport.write(_BUSY)
            transport.close()
            return
        self.sweeper = sweeper = _of_server(self._sweepers, self.connections,
                                            lambda: _Sweeper(self.loop, self.connections))
        self.deadline = sweeper.now + self.limits.header_timeout  # a connection that sends nothing

    def data_received(self, data: bytes) -> None:
        if self.in_head:
            self.head_bytes += len(data)
        super().data_received(data)
        if self.in_head and self.head_bytes > self.limits.max_header_bytes and not self.transport.is_closing():
            self.transport.write(_HEAD_TOO_LARGE)
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True
        # a request after the first (the connection idle, or none set): its head from its first byte
        if (self.deadline is None or self.idle) and self.sweeper is not None:
            self.deadline = self.sweeper.now + self.limits.header_timeout
        self.idle = False

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_bytes = 0
        if self.sweeper is not None:
            self.deadline = self.sweeper.now + self.limits.body_timeout
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.deadline = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        """As uvicorn's (the next pipelined request started, else the connection kept alive for
        ``timeout_keep_alive``), the keep-alive kept by the sweeper as a deadline like the others:
        uvicorn arms a timer a response and cancels it at the next request's first bytes."""
        if self.sweeper is None:  # refused at connection_made: closing
            super().on_response_complete()
            return
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self.deadline is None:  # no next request begun (one whose head is arriving keeps its deadline)
            self.idle = True
            self.deadline = self.sweeper.now + self.timeout_keep_alive

    def expire(self) -> None:
        """Past the deadline: 408 unless a response is already under way (or the connection was
        idle after one: kept alive long enough), then close."""
        self.deadline = None
        if self.transport.is_closing():
            return
        if self.idle:
            self.transport.close()
            return
        cycle = self.cycle
        if self.in_head or cycle is None or not cycle.response_started:
            self.transport.write(_TIMEOUT)
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the application's receive() now says the client left
            cycle.message_event.set()
        self.transport.close()


_PerServer = TypeVar("_PerServer", "_Cork", "_Sweeper")


def _of_server(table: dict[int, _PerServer], connections: set[Any], make: Callable[[], _PerServer]) -> _PerServer:
    """The one ``_Cork`` or ``_Sweeper`` of the server whose open connections are ``connections``."""
    found = table.get(id(connections))
    if found is None or found.connections is not connections:  # an id() reused by a new server
        found = table[id(connections)] = make()
    return found


class _Cork:
    """The connections of one server with bytes held this turn, and the one call that writes them."""

    __slots__ = ("connections", "held", "loop", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        self.loop = loop
        self.connections = connections
        self.held: list[_CorkedTransport] = []
        self.scheduled = False

    def flush(self) -> None:
        self.scheduled = False
        held, self.held = self.held, []
        for transport in held:
            try:
                transport.flush()
            except Exception:  # one broken connection must not keep the others' answers held
                log.exception("writing a connection's answers failed; closing it")
                transport.transport.abort()


class _CorkedTransport:
    """A connection's transport whose writes wait for the end of the loop's turn (``_Cork``)."""

    __slots__ = ("chunks", "cork", "size", "transport")

    def __init__(self, transport: asyncio.Transport, cork: _Cork) -> None:
        self.transport = transport
        self.cork = cork
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self.chunks:
            cork = self.cork
            cork.held.append(self)
            if not cork.scheduled:
                cork.scheduled = True
                cork.loop.call_soon(cork.flush)
        self.chunks.append(data)
        self.size += len(data)
        if self.size > _CORK_BYTES:  # a big body: out now, under the transport's own flow control
            self.flush()

    def flush(self) -> None:
        """Write what is held (nothing once the transport is closing: the client has gone)."""
        chunks = self.chunks
        if not chunks:
            return
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.chunks = []
        self.size = 0
        if not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:  # asked at every response: not through __getattr__'s failed lookup
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # pause_reading, get_extra_info, abort, ...
        return getattr(self.transport, name)


class _Sweeper:
    """Expires the connections of one server past their deadline, every ``_SWEEP_SECONDS``."""

    __slots__ = ("connections", "crowd", "loop", "now", "trimmed")

    def __init__(self, loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        self.loop = loop
        self.connections = connections
        self.now = loop.time()
        self.crowd = 0  # most connections open since the heap was last trimmed
        self.trimmed = self.now
        loop.call_later(_SWEEP_SECONDS, self.sweep)

    def sweep(self) -> None:
        self.now = now = self.loop.time()
        for connection in list(self.connections):
            deadline = getattr(connection, "deadline", None)
            if deadline is not None and deadline < now:
                connection.expire()
        open_now = len(self.connections)
        self.crowd = max(self.crowd, open_now)
        # A crowd that has halved left its buffers free in the heap: give them back, at most every
        # _TRIM_SECONDS (giving back 90 MB took 35 ms here, a trim with nothing to give 0.2 ms).
        if self.crowd >= _CROWD and open_now * 2 < self.crowd and now - self.trimmed > _TRIM_SECONDS:
            self.crowd = open_now
            self.trimmed = now
            _trim()
        self.loop.call_later(_SWEEP_SECONDS, self.sweep)


class FrontConfig(uvicorn.Config):
    """uvicorn's configuration with drgate's front: the protocol above and its limits."""

    def __init__(self, app: Any, *, limits: FrontLimits, **kwargs: Any) -> None:
        # No X-Forwarded-* rewriting (uvicorn's ProxyHeadersMiddleware, ~1.5 µs a request): drgate reads
        # neither the client's address nor the scheme (the workbench's cookie is Secure by setting).
        kwargs.setdefault("proxy_headers", False)
        super().__init__(app, http=FrontProtocol, limit_concurrency=limits.max_connections + 1, **kwargs)
        self.limits = limits


def _trim() -> None:
    """Give the heap's free pages back to the system (glibc ``malloc_trim``): what a crowd of
    connections left there otherwise stays in the worker's RSS (+17 to +23 MB, measured)."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim
        log.debug("malloc_trim unavailable")
