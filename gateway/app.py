"""The FastAPI application: ``create_app(settings)``; the lifespan owns Redis and the reader."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from cache.async_reader import AsyncSnapshotReader
from cache.disk import SnapshotFile
from cache.keys import Keys
from cache.snapshot_cache import SnapshotCache
from gateway.admin.publish import router as admin_publish_router
from gateway.admin.records import router as admin_records_router
from gateway.admin.workbench import Workbench
from gateway.api.auth import ApiKeyGuard, KeyRing
from gateway.api.bodies import BodyBudget
from gateway.api.decisions import router as decisions_router
from gateway.api.docs_ui import serve_docs
from gateway.api.hotpath import ClaimCheckEndpoint, GatewayApp
from gateway.api.openapi import build_openapi
from gateway.api.v1 import CHECK_PATH, router
from gateway.check.policy import Policy
from gateway.check.service import CheckService
from gateway.connections import async_redis, close_async_redis, open_store
from gateway.decisionlog.backlog import ArchiveBacklog
from gateway.decisionlog.retention import Retention
from gateway.decisionlog.spool import Spool
from gateway.decisionlog.writer import DecisionLog
from gateway.formats.nhsa.envelope import Responder, unauthorised
from gateway.formats.nhsa.front import NhsaFront
from gateway.formats.nhsa.routes import endpoints as nhsa_endpoints
from gateway.formats.nhsa.routes import router as nhsa_router
from gateway.observe.metrics import Metrics, front_of
from gateway.settings import Settings
from gateway.state import GatewayState
from gateway.ui import mount_ui
from rules.calendar import china_calendar
from rules.profiles import load_profile
from rules.store.archive.reads import ArchiveReader

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    profile = load_profile(settings.profile)  # parse once; an unknown profile fails here, not per request
    calendar = china_calendar(settings.calendar_file)  # a malformed override file fails here too
    ring = KeyRing(settings.api_keys, required=settings.require_api_keys)  # the store's keys come with the snapshot

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = async_redis(settings)
        cache = SnapshotCache(Keys(settings.redis_prefix), settings.cache_size, profile.name)
        file = SnapshotFile(Path(settings.var_dir) / f"snapshot-{settings.redis_prefix}.drgate",
                            settings.redis_prefix, profile.name) if settings.snapshot_file else None
        reader = AsyncSnapshotReader(client, cache, poll_interval=settings.poll_interval,
                                     preload=settings.preload, file=file,
                                     file_interval=settings.snapshot_file_interval, on_callers=ring.install)
        await reader.start()
        metrics = Metrics(profile=profile.name, enforce=settings.enforce, fail_mode=settings.on_unverified)
        own = settings.decision_log_redis()
        log_client = client if own is None else async_redis(own)
        retention = Retention(settings.decision_log_maxlen, settings.decision_log_max_bytes,
                              settings.decision_log_max_age)
        decisions = DecisionLog(log_client, cache.keys, retention, buffer=settings.decision_log_buffer,
                                fail_open=settings.fail_open, profile=profile.name,
                                spool=Spool(Path(settings.var_dir) / "spool"))
        await decisions.start()
        metrics.decisions = decisions
        metrics.backlog = ArchiveBacklog(log_client, cache.keys)
        front = NhsaFront(settings)
        await front.start()  # the pooled client to the platform, when DRGATE_NHSA_UPSTREAM is set
        app.state.nhsa = front
        store = open_store(settings)  # no connection until the first lookup
        app.state.admin = Workbench(settings, profile, calendar, store)  # /admin/v1/
        checks = CheckService(Policy.from_settings(settings, profile), metrics, decisions)
        app.state.gateway = GatewayState(settings, profile, checks, client, cache, reader, metrics, decisions,
                                         store if settings.status_store else None,  # the help desk's reasons only
                                         calendar, ArchiveReader(store.engine),  # /v1/decisions
                                         backlog=metrics.backlog)
        cast(GatewayApp, app).gateway = app.state.gateway  # the hot path's plain attribute (gateway.api.hotpath)
        flusher = asyncio.create_task(metrics.flush_periodically(cache)) if metrics.multiprocess else None
        log.info("gateway ready: profile %s, enforce=%s, %s", profile.name, settings.enforce, settings.on_unverified)
        try:
            yield
        finally:
            if flusher is not None:
                flusher.cancel()
            await front.stop()
            await decisions.stop()
            await reader.stop()
            if log_client is not client:
                await close_async_redis(log_client)
            await close_async_redis(client)
            store.dispose()

    app = GatewayApp(
        title="drgate",
        version="1",
        summary="May the ordering physician (开单医生) be paid from the fund on the date of service?",
        lifespan=lifespan,
        docs_url=None,  # served by serve_docs, with the assets from drgate itself
        redoc_url=None,
    )
    serve_docs(app)
    mount_ui(app, settings)  # the agency's workbench at /ui/
    app.include_router(router)
    app.include_router(nhsa_router)
    app.include_router(decisions_router)
    app.include_router(admin_records_router)
    app.include_router(admin_publish_router)
    app.bodies = BodyBudget(settings.body_buffer_bytes)  # this worker's, shared by every route reading a body
    app.check = ClaimCheckEndpoint(app.bodies)  # the hot path, dispatched ahead of FastAPI (gateway.api.hotpath)
    app.ahead = dict(nhsa_endpoints())  # the platform's transactions, likewise
    app.access_log = settings.access_log
    # Every route's role, in one pure-ASGI guard per entry: FastAPI's routes, the check, /nhsa/ (gateway.api.roles).
    refusal = unauthorised(Responder(infcode_text=settings.nhsa_infcode_text))  # /nhsa/: the platform's envelope
    app.add_middleware(ApiKeyGuard, ring=ring, refusal=refusal)
    app.check = ApiKeyGuard(app.check, ring, path=CHECK_PATH)
    app.ahead = {path: ApiKeyGuard(endpoint, ring, refusal, path=path) for path, endpoint in app.ahead.items()}
    app.state.keys = ring

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        state: GatewayState = request.app.state.gateway
        if state.backlog is not None:
            await state.backlog.check()
        return Response(state.metrics.render(state.cache), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(405)
    async def _method_not_allowed(request: Request, exc: Exception) -> Response:
        """405 with every method the path serves in ``Allow``: Starlette names only the first route
        matching the path, and ``/admin/v1/records`` and ``/admin/v1/keys`` have one route a method."""
        methods = sorted(_methods_of(request.app.router.routes, request.url.path))
        return Response(orjson.dumps({"detail": "Method Not Allowed"}), status_code=405,
                        media_type="application/json", headers={"allow": ", ".join(methods)})

    @app.exception_handler(RequestValidationError)
    async def _unprocessable(request: Request, exc: RequestValidationError) -> Response:
        state: GatewayState | None = getattr(request.app.state, "gateway", None)
        if state is not None:
            state.metrics.refuse(front_of(request.url.path), "invalid")
        detail = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
        return Response(orjson.dumps({"detail": detail}), status_code=422, media_type="application/json")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app, api_keys=True, profile=profile)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _methods_of(routes: list[Any], path: str) -> set[str]:
    """Every method a route serving ``path`` takes, into included routers (FastAPI keeps them whole)."""
    found: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found |= _methods_of(included.routes, path)
        elif getattr(route, "methods", None) and route.path_regex.match(path):
            found |= set(route.methods)
    return found
