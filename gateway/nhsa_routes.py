"""``POST /nhsa/2204`` and ``POST /nhsa/2301``: the national platform's envelopes over HTTP.

The platform answers every request with HTTP 200 and says in ``infcode`` whether it was
processed (0) or not (-1, ``err_msg`` says why); HIS code branches on ``infcode``, so these routes
do the same.  A claim with rejected lines is processed (``infcode 0``): the rejections are in
``output.result``, shaped like the platform's 3101 rule-check results.  Only a body over the
size limit gets an HTTP error (413), before anything is read.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from gateway.checker import decide_claim
from gateway.nhsa import TRANSACTIONS, Envelope2204, Envelope2301, error_message, failure, success, to_check_request
from gateway.routes import read_body
from gateway.state import GatewayState
from gateway.status import CHINA

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["national platform (国家医保信息平台)"])

MAX_BODY = 4 << 20  # 4 MiB: 1000 full 2204 lines (~30 fields each) stay under 1 MiB; room for padding

_MODELS: dict[str, type[Envelope2204] | type[Envelope2301]] = {"2204": Envelope2204, "2301": Envelope2301}


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _check(request: Request, infno: str) -> Response:
    received = datetime.now(CHINA)
    started = time.perf_counter()
    state: GatewayState = request.app.state.gateway
    body = await read_body(request.scope, request.receive, MAX_BODY)
    if body is None:
        return _json(failure("request body over 4 MiB; send at most 1000 feedetail lines", received), 413)
    try:
        envelope = _MODELS[infno].model_validate_json(body)
    except ValidationError as exc:
        return _json(failure(error_message(exc), received))
    if envelope.infno != infno:
        return _json(failure(f"infno: {envelope.infno} was sent to /nhsa/{infno}", received, envelope.mdtrtarea_admvs))
    claim = to_check_request(envelope)
    records = await state.reader.get_many([line.physician_code for line in claim.lines])
    cache = state.cache
    result = decide_claim(claim, records, cache.snapshot, state.policy, redis_ok=cache.redis_ok)
    state.observe(result, time.perf_counter() - started)
    return _json(success(envelope, result, received))


def _route(infno: str) -> None:
    async def endpoint(request: Request) -> Response:
        return await _check(request, infno)

    router.add_api_route(
        f"/nhsa/{infno}", endpoint, methods=["POST"],
        summary=f"{infno} {TRANSACTIONS[infno]}: check every feedetail line's 开单医生",
        description="The platform's envelope in; `infcode` 0 with rejected lines as 3101 results in "
        "`output.result`, or `infcode` -1 with `err_msg` naming the bad field. Always HTTP 200 except 413.",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"type": "object", "description": f"The platform's {infno} envelope; see docs/nhsa.md"}}}}},
    )


for _infno in _MODELS:
    _route(_infno)
