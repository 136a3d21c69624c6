"""The blocking reader, for a Python settlement service that checks claims in-process.

Same cache, coherence and fault handling as the asyncio reader (``cache.async_reader``): a daemon thread
follows the invalidation channel, polls ``meta`` and alone probes a Redis that is down; lookups
run in the caller's thread and never wait on a Redis known to be down.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import replace
from typing import Any

import redis
from redis.exceptions import RedisError, ResponseError

from cache.errors import CacheError, NoSnapshot
from cache.snapshot_cache import UNREAD, SnapshotCache

__all__ = ["SnapshotReader"]

log = logging.getLogger(__name__)


class SnapshotReader:
    def __init__(self, client: redis.Redis, cache: SnapshotCache, *, poll_interval: float = 0.5,
                 retry_interval: float = 0.2) -> None:
        self.redis = client
        self.cache = cache
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval  # pause of the follower between reconnection attempts
        self._lock = threading.Lock()  # the cache is mutated by the follower and the callers
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self.refresh(None)
        except (RedisError, OSError) as exc:
            self.cache.mark_failed(exc)
        self._thread = threading.Thread(target=self._follow, name="drgate-snapshot-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def refresh(self, event: bytes | None) -> None:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.cache.keys.meta)
            pipe.hgetall(self.cache.keys.sync)
            meta, last = pipe.execute()
        self.cache.note_sync(last)
        if b"generation" not in meta:
            if self.cache.snapshot is not None:  # restarted empty, or flushed: keep what we hold
                self.cache.mark_failed(NoSnapshot())
            return
        if not self.cache.redis_ok:
            self._drop_idle_connections()
        self.cache.mark_ok()
        with self._lock:
            reload_institutions, physicians = self.cache.plan_refresh(meta, event)
        if physicians == [] and not reload_institutions:
            with self._lock:
                self.cache.renew(meta)  # the same publication: its freshness, the last sync
            return
        snap = self.cache.snapshot
        institutions = aliases = None
        if reload_institutions or snap is None:
            generation = int(meta[b"generation"])
            institutions = self.redis.hgetall(self.cache.keys.institutions(generation))
            aliases = self.redis.hgetall(self.cache.keys.aliases(generation))  # published with them
        new = self.cache.build(meta, institutions or {}, aliases)  # type: ignore[arg-type]
        if institutions is None and snap is not None:
            new = replace(new, institutions=snap.institutions, aliases=snap.aliases)
        with self._lock:
            self.cache.install(new, physicians)
            self.cache.renew(meta)

    def _follow(self) -> None:
        while not self._stop.is_set():
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.cache.keys.events)
                self.refresh(None)
                next_poll = time.monotonic() + self.poll_interval
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=self.poll_interval)
                    if message is not None:
                        self.refresh(message["data"])
                    if time.monotonic() >= next_poll:
                        self.refresh(None)
                        next_poll = time.monotonic() + self.poll_interval
            except (RedisError, OSError) as exc:
                self.cache.mark_failed(exc)
                self._stop.wait(self.retry_interval)
            except Exception:  # a corrupt meta or message must not end the follower: log it, go on
                log.exception("snapshot follower failed; retrying")
                self.cache.mark_failed(CacheError("follower failed"))
                self._stop.wait(self.retry_interval)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    pubsub.close()

    def get_many(self, codes: list[str]) -> dict[str, Any]:
        cache = self.cache
        with self._lock:
            found, missing = cache.cached(codes)
            snap, epoch = cache.snapshot, cache.epoch
        if not missing:
            return found
        if snap is None or not cache.redis_ok:  # the follower probes; a caller never waits on a dead Redis
            return {**found, **dict.fromkeys(missing, UNREAD)}
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for code in missing:
                    pipe.hget(snap.bucket_key(code), code)
                pipe.hget(cache.keys.meta, "generation_id")
                *raws, live = pipe.execute(raise_on_error=False)
            if live != snap.generation_tag:  # moved on, or gone: nils say nothing about the registry
                with self._lock:
                    return cache.absorb_stale(snap, missing, raws, found, live)
            with self._lock:
                overflow = cache.absorb(snap, epoch, missing, raws, found)
            if overflow:
                raws = self.redis.hmget(snap.overflow_key, overflow)
                with self._lock:
                    cache.absorb(snap, epoch, overflow, raws, found)
        except ResponseError as exc:
            return cache.unread(missing, found, exc, refused=True)
        except (RedisError, OSError) as exc:
            return cache.unread(missing, found, exc, refused=False)
        return found

    def _drop_idle_connections(self) -> None:
        """Close the pooled connections left idle across an outage (see ``cache.async_reader``)."""
        pool = getattr(self.redis, "connection_pool", None)
        with contextlib.suppress(RedisError, OSError):
            if pool is not None:
                pool.disconnect(inuse_connections=False)
            else:  # a cluster client: a pool per node
                for node in self.redis.get_nodes():  # type: ignore[attr-defined]
                    if node.redis_connection is not None:
                        node.redis_connection.connection_pool.disconnect(inuse_connections=False)
