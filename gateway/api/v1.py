"""HTTP API v1: the claim check (hot path), the help desk's status lookup, health and readiness.

The check reads the body itself, validates it into plain dicts (``schemas.ClaimIn``: orjson and a
check of the schema, pydantic-core for anything else and for the 422's detail), and answers with
the core's serialised answer (``ClaimResult.json``): no per-request model building.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cache.snapshot_cache import UNREAD
from gateway.api.auth import CALLER
from gateway.api.bodies import read_body
from gateway.api.schemas import CODE, DAY, CheckResponse, PhysicianStatus, parse_claim
from gateway.check.status import CHINA, explain, store_reasons
from gateway.errors import BodyRefused
from gateway.state import GatewayState

__all__ = ["CHECK_PATH", "CLOSE", "MAX_BODY", "answer_check", "read_body", "refusal", "router"]

log = logging.getLogger(__name__)
router = APIRouter()

CHECK_PATH = "/v1/claims/check"
MAX_BODY = 1 << 20  # 1 MiB: 1000 lines of a claim fit in well under 200 KiB
CLOSE = {"connection": "close"}  # a refused body may still be arriving: not worth reading to keep the connection

def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _problem(status: int, detail: Any) -> Response:
    return _json({"detail": detail}, status)


def validation_detail(exc: ValidationError, root: str = "body") -> list[dict[str, Any]]:
    """FastAPI's 422 shape, without echoing the input back."""
    return [
        {"type": e["type"], "loc": [root, *e["loc"]], "msg": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


@router.post(
    CHECK_PATH,
    response_model=CheckResponse,
    summary="Check every line of a claim",
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/CheckRequest"}}}}},
    responses={413: {"description": "Body over 1 MiB"}, 422: {"description": "Malformed input; names the field"},
               503: {"description": "This worker holds too many unfinished bodies; retry"}},
)
async def check_claim(request: Request) -> Response:
    """Documents the check in OpenAPI, and answers it when ``gateway.api.hotpath`` is not in front
    (mounted under another path); the same ``answer_check`` either way."""
    started = time.perf_counter()
    try:
        body = await read_body(request.scope, request.receive, MAX_BODY, request.app.bodies)
    except BodyRefused as exc:
        return refusal(exc)
    status, payload = await answer_check(request.app.state.gateway, body, started, request.scope.get(CALLER))
    return Response(payload, status_code=status, media_type="application/json")


def refusal(exc: BodyRefused) -> Response:
    return Response(orjson.dumps({"detail": exc.detail}), status_code=exc.status, media_type="application/json",
                    headers=CLOSE)


async def answer_check(state: GatewayState, body: bytes | bytearray, started: float,
                       caller: str | None = None) -> tuple[int, bytes]:
    """Status and JSON body of a claim check: 422 naming the field, or 200 with the core's answer
    (``gateway.check.service``): the body validated is already the core's claim."""
    try:
        claim = parse_claim(body)
    except ValidationError as exc:
        state.metrics.refuse("v1", "invalid")
        return 422, orjson.dumps({"detail": validation_detail(exc)})
    result = await state.checks.check(state.reader, claim, started, "v1", caller)
    return 200, result.json()


@router.get("/v1/physicians/{code}", response_model=PhysicianStatus, summary="Explain a physician's state",
            responses={503: {"description": "The record cannot be read now (Redis down and not held); retry"}})
async def physician_status(
    request: Request,
    code: Annotated[str, Path(pattern=CODE, description="医保医师代码")],
    on: Annotated[str | None, Query(pattern=DAY, description="YYYY-MM-DD (default: today, Asia/Shanghai)")] = None,
    institution: Annotated[str | None, Query(pattern=CODE, description="定点医疗机构代码")] = None,
) -> Response:
    state: GatewayState = request.app.state.gateway
    day = date.fromisoformat(on) if on else datetime.now(CHINA).date()  # DAY admits real days only
    records = await state.reader.get_many([code])
    record = records.get(code)
    snapshot = state.cache.snapshot
    if snapshot is None or record is UNREAD:
        return _problem(503, "the snapshot cannot be read now; retry, or see /readyz")
    mismatch = state.cache.profile_mismatch
    if mismatch is not None:
        return _problem(503, _mismatch_text(mismatch))
    why = await run_in_threadpool(store_reasons, state.store, state.profile, state.calendar, code, day, institution)
    return _json(explain(code, record, snapshot, day, institution, state.policy, state.profile, why))


@router.get("/healthz", summary="Process is up")
async def healthz() -> Response:
    return _json({"status": "ok"})


def _mismatch_text(mismatch: tuple[str, str]) -> str:
    return (f"the snapshot was computed for profile {mismatch[0]}, this gateway is configured for {mismatch[1]}: "
            "lines are unverified; publish a snapshot of this profile, or fix DRGATE_PROFILE")


@router.get("/readyz", summary="A snapshot of the configured profile is held: the gateway answers (from it, "
                               "`stale`, while Redis is down)")
async def readyz(request: Request) -> Response:
    """200 once a snapshot is held, Redis up or not: a probe that pulled every gateway out of the
    balancer during a Redis outage would stall settlement, which the held snapshot avoids.
    ``redis`` says whether Redis answers now; alert on ``drgate_redis_up``, not on this.
    503 before a first snapshot, and while the snapshot held was computed for another profile
    (``detail`` names both).  ``last_sync``: the last sync's time and outcome, as ``meta`` tells.
    ``warnings``: an eviction policy that can evict snapshot keys (``cache.eviction``), an archiver
    behind the decision log or entries trimmed before it read them (``gateway.decisionlog.backlog``)."""
    state: GatewayState = request.app.state.gateway
    warnings: list[str] = []
    try:
        await state.redis.ping()
        redis_ok = True
        if (eviction := await state.eviction.warning(state.redis)) is not None:
            warnings.append(eviction)
        if state.backlog is not None:  # the decision log's Redis, which may be another
            await state.backlog.check()
            if (behind := state.backlog.warning()) is not None:
                warnings.append(behind)
    except Exception as exc:  # any failure to reach Redis means not ready; say which
        log.warning("readyz: redis ping failed: %s", type(exc).__name__)
        redis_ok = False
    cache = state.cache
    snapshot = cache.snapshot
    mismatch = cache.profile_mismatch
    ready = snapshot is not None and mismatch is None
    body: dict[str, Any] = {
        "ready": ready, "redis": redis_ok, "warnings": warnings,
        "snapshot": None if snapshot is None else {
            "id": snapshot.id, "digest": snapshot.digest, "profile": snapshot.profile,
            "version": snapshot.version, "generation": snapshot.generation,
            "published_at": snapshot.published_at, "physicians": snapshot.physicians,
            "verified_at": _iso(snapshot.verified_ts),  # the last successful sync: age counts from it
            "age_seconds": round(cache.age_seconds(), 1),
            # complete: this worker holds every record and answers without Redis round trips
            "complete": cache.complete, "cached": len(cache.records),
        },
        "last_sync": None if cache.last_sync is None else {"at": _iso(cache.last_sync[0]),
                                                           "outcome": cache.last_sync[1]},
    }
    if mismatch is not None:
        body["detail"] = _mismatch_text(mismatch)
    return _json(body, 200 if ready else 503)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")

