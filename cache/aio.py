"""The asyncio reader of the HTTP gateway: one pipelined round trip per claim on a miss, none on a hit.

A background task follows the sync's invalidation channel and polls ``meta`` every
``poll_interval`` seconds as a backstop, so a publication reaches this worker within about a
second even when a message is lost.  While Redis is down the reader answers from what it holds
and does not wait on Redis more than once per ``retry_interval``: lines it cannot resolve are
``UNREAD`` (→ ``unverified``), never a stall.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cache.reader import UNREAD, SnapshotCache

__all__ = ["AsyncSnapshotReader"]

log = logging.getLogger(__name__)


class AsyncSnapshotReader:
    def __init__(self, client: aioredis.Redis, cache: SnapshotCache, *, poll_interval: float = 0.5,
                 retry_interval: float = 0.5) -> None:
        self.redis = client
        self.cache = cache
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval
        self._down_since = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.refresh(None)
        self._task = asyncio.create_task(self._follow(), name="drgate-snapshot-follower")

    async def stop(self) -> None:
        # A cancel that lands as redis-py's read timeout fires can be swallowed (Python 3.11): the
        # flag ends the loop at its next poll even then.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- following publications -------------------------------------------------------------

    async def refresh(self, event: bytes | None) -> None:
        meta: dict[bytes, bytes] = await self.redis.hgetall(self.cache.keys.meta)
        self._ok()
        if b"generation" not in meta:
            return
        reload_institutions, physicians = self.cache.plan_refresh(meta, event)
        if physicians == [] and not reload_institutions:
            return
        snap = self.cache.snapshot
        if reload_institutions or snap is None:
            institutions = await self.redis.hgetall(self.cache.keys.institutions(int(meta[b"generation"])))
        else:
            institutions = None
        new = self.cache.build(meta, institutions or {})
        if institutions is None and snap is not None:
            new = replace(new, institutions=snap.institutions)
        self.cache.install(new, physicians)
        log.info("snapshot generation %d version %d installed", new.generation, new.version)

    async def _follow(self) -> None:
        while not self._stopping:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await self.redis.initialize()  # a cluster client maps its slots here; SUBSCRIBE needs them
                await pubsub.subscribe(self.cache.keys.events)
                await self.refresh(None)  # whatever was published while we were not listening
                next_poll = time.monotonic() + self.poll_interval
                while not self._stopping:
                    message = await pubsub.get_message(timeout=self.poll_interval)
                    if message is not None:
                        await self.refresh(message["data"])
                    if time.monotonic() >= next_poll:
                        await self.refresh(None)
                        next_poll = time.monotonic() + self.poll_interval
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._failed(exc)
                await asyncio.sleep(0.2)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    # -- lookups ---------------------------------------------------------------------------------

    async def get_many(self, codes: list[str]) -> dict[str, Any]:
        """Record (or None: not in the registry, or UNREAD) of each code."""
        cache = self.cache
        found, missing = cache.cached(codes)
        snap = cache.snapshot
        if not missing:
            return found
        if snap is None or (not cache.redis_ok and time.monotonic() - self._down_since < self.retry_interval):
            for code in missing:
                found[code] = UNREAD
            return found
        epoch = cache.epoch
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for code in missing:
                    pipe.hget(snap.bucket_key(code), code)
                raws = await pipe.execute()
            overflow = cache.absorb(snap, epoch, missing, raws, found)
            if overflow:
                raws = await self.redis.hmget(snap.overflow_key, overflow)
                cache.absorb(snap, epoch, overflow, raws, found)
            self._ok()
        except (RedisError, OSError) as exc:
            self._failed(exc)
            for code in missing:
                found.setdefault(code, UNREAD)
        return found

    def _ok(self) -> None:
        if not self.cache.redis_ok:
            log.info("redis reachable")
        self.cache.redis_ok = True
        self.cache.last_ok = time.monotonic()

    def _failed(self, exc: BaseException) -> None:
        self.cache.redis_errors += 1
        if self.cache.redis_ok:
            log.warning("redis unreachable (%s); answering from the snapshot held", type(exc).__name__)
        self.cache.redis_ok = False
        self._down_since = time.monotonic()
