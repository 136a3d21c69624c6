"""The blocking reader, for a Python settlement service that checks claims in-process.

Same cache and coherence as the asyncio reader (``cache.aio``); a daemon thread follows the
invalidation channel and polls ``meta``.  Lookups run in the caller's thread.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import replace
from typing import Any

import redis
from redis.exceptions import RedisError

from cache.reader import UNREAD, SnapshotCache

__all__ = ["SnapshotReader"]

log = logging.getLogger(__name__)


class SnapshotReader:
    def __init__(self, client: redis.Redis, cache: SnapshotCache, *, poll_interval: float = 0.5,
                 retry_interval: float = 0.5) -> None:
        self.redis = client
        self.cache = cache
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval
        self._down_since = 0.0
        self._lock = threading.Lock()  # the cache is mutated by the follower and the callers
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self.refresh(None)
        except (RedisError, OSError) as exc:
            self._failed(exc)
        self._thread = threading.Thread(target=self._follow, name="drgate-snapshot-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def refresh(self, event: bytes | None) -> None:
        meta: dict[bytes, bytes] = self.redis.hgetall(self.cache.keys.meta)  # type: ignore[assignment]
        self._ok()
        if b"generation" not in meta:
            return
        with self._lock:
            reload_institutions, physicians = self.cache.plan_refresh(meta, event)
        if physicians == [] and not reload_institutions:
            return
        snap = self.cache.snapshot
        institutions = None
        if reload_institutions or snap is None:
            institutions = self.redis.hgetall(self.cache.keys.institutions(int(meta[b"generation"])))
        new = self.cache.build(meta, institutions or {})  # type: ignore[arg-type]
        if institutions is None and snap is not None:
            new = replace(new, institutions=snap.institutions)
        with self._lock:
            self.cache.install(new, physicians)

    def _follow(self) -> None:
        while not self._stop.is_set():
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
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
                self._failed(exc)
                self._stop.wait(0.2)
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
        if snap is None or (not cache.redis_ok and time.monotonic() - self._down_since < self.retry_interval):
            return {**found, **dict.fromkeys(missing, UNREAD)}
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for code in missing:
                    pipe.hget(snap.bucket_key(code), code)
                raws = pipe.execute()
            with self._lock:
                overflow = cache.absorb(snap, epoch, missing, raws, found)
            if overflow:
                raws = self.redis.hmget(snap.overflow_key, overflow)
                with self._lock:
                    cache.absorb(snap, epoch, overflow, raws, found)
            self._ok()
        except (RedisError, OSError) as exc:
            self._failed(exc)
            for code in missing:
                found.setdefault(code, UNREAD)
        return found

    def _ok(self) -> None:
        self.cache.redis_ok = True
        self.cache.last_ok = time.monotonic()

    def _failed(self, exc: BaseException) -> None:
        self.cache.redis_errors += 1
        if self.cache.redis_ok:
            log.warning("redis unreachable (%s); answering from the snapshot held", type(exc).__name__)
        self.cache.redis_ok = False
        self._down_since = time.monotonic()
