"""What the national-platform front holds per worker: the response builder, the dictionary codes,
and, with ``DRGATE_NHSA_UPSTREAM`` set, the pooled HTTP client to the platform it stands before.

In front of the platform, an upload whose lines all pass (or are exempt, or refunds) is forwarded
byte for byte, with the headers that carry meaning to the platform (signature, content type,
the gateway's own ``x-tif-*``/``x-ca-*`` headers), and the platform's answer is returned as it
came: status, body, content type.  The platform slow or down: after ``DRGATE_NHSA_UPSTREAM_TIMEOUT``
seconds drgate answers the platform's own failure envelope (``infcode -1``, ``err_msg`` saying the
platform did not answer): never a hang, and never a pass the platform did not give.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, NamedTuple

import httpx
import orjson

from gateway.formats.nhsa.envelope import Responder
from gateway.formats.nhsa.results import Dictionary
from gateway.settings import Settings

__all__ = ["Forwarded", "NhsaFront"]

log = logging.getLogger(__name__)

# Request headers passed on: what the platform's gateway reads (content type, signatures, the
# paas/tif and CA headers some provinces require).  Hop-by-hop headers and the API key are not.
# The body is passed on decoded (httpx negotiates its own compression), so no content-encoding.
_FORWARD = ("content-type", "accept", "user-agent")
_FORWARD_PREFIXES = ("x-tif-", "x-ca-", "x-sign", "apikey")
# Response headers returned: the body's type and the platform's trace ids.
_RETURN = ("content-type", "x-request-id", "x-trace-id")
_JSON = (b"content-type", b"application/json")


class Forwarded(NamedTuple):  # one an answer: a NamedTuple costs a third of a frozen dataclass
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]
    own: bool = False  # drgate's own envelope, not the platform's answer: it carries no X-Request-ID


class NhsaFront:
    def __init__(self, settings: Settings) -> None:
        self.responder = Responder(infcode_text=settings.nhsa_infcode_text)
        self.dictionary = Dictionary(settings.nhsa_vola_amt_stas, settings.nhsa_vola_bhvr_type)
        self.upstream = settings.nhsa_upstream.rstrip("/") if settings.nhsa_upstream else None
        self.timeout = settings.nhsa_upstream_timeout
        self.client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        if self.upstream is not None:
            # One pooled client per worker: connections to the platform are kept alive between uploads.
            self.client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout),
                                            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def forward(self, infno: str, body: bytes, headers: list[tuple[bytes, bytes]], received: datetime,
                      region: str) -> Forwarded:
        """The platform's answer to the upload, or its failure envelope when it does not answer in time."""
        assert self.client is not None and self.upstream is not None
        sent = {name.decode("latin-1"): value.decode("latin-1") for name, value in headers
                if name.decode("latin-1") in _FORWARD or name.decode("latin-1").startswith(_FORWARD_PREFIXES)}
        try:
            reply = await self.client.post(f"{self.upstream}/{infno}", content=body, headers=sent)
        except httpx.TimeoutException:
            log.warning("nhsa upstream did not answer %s within %.1fs", infno, self.timeout)
            message = f"医保平台未在{self.timeout:g}秒内应答 (upstream timeout); 请稍后重试"
            return self._failed(message, received, region)
        except httpx.HTTPError as exc:
            log.warning("nhsa upstream unreachable for %s: %s", infno, type(exc).__name__)
            return self._failed("医保平台无法连接 (upstream unreachable); 请稍后重试", received, region)
        kept = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers.items()
                if name.lower() in _RETURN]
        return Forwarded(reply.status_code, reply.content, kept)

    def _failed(self, message: str, received: datetime, region: str) -> Forwarded:
        return self.envelope(self.responder.failure(message, received, region))

    def envelope(self, payload: Any, status: int = 200) -> Forwarded:
        return Forwarded(status, orjson.dumps(payload), [_JSON], True)

    def written(self, body: bytes, status: int = 200) -> Forwarded:
        """``envelope`` of an envelope already serialised."""
        return Forwarded(status, body, [_JSON], True)
