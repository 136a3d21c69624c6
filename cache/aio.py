"""The asyncio reader of the HTTP gateway: one pipelined round trip per claim on a miss, none on a hit.

A background task follows the sync's invalidation channel and polls ``meta`` every
``poll_interval`` seconds as a backstop, so a publication reaches this worker within about a
second even when a message is lost.  While Redis is down (or holds no snapshot: restarted
empty) requests do not touch Redis at all: the reader answers from what it holds and lines it
cannot resolve are ``UNREAD`` (→ ``unverified``), never a stall.  The follower alone probes, every
``retry_interval``, and its first good read of ``meta`` brings requests back to Redis.

Each fetch also reads ``meta``'s generation: a nil from a generation that is no longer the
published one (an expired old snapshot, a Redis restarted empty) is ``UNREAD``, never "not in the
registry": that would reject every line of a known physician.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from cache.errors import CacheError, NoSnapshot
from cache.reader import UNREAD, SnapshotCache

__all__ = ["AsyncSnapshotReader"]

log = logging.getLogger(__name__)


class AsyncSnapshotReader:
    def __init__(self, client: aioredis.Redis, cache: SnapshotCache, *, poll_interval: float = 0.5,
                 retry_interval: float = 0.2) -> None:
        self.redis = client
        self.cache = cache
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval  # pause of the follower between reconnection attempts
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.refresh(None)
        self._task = asyncio.create_task(self._follow(), name="drgate-snapshot-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- following publications -------------------------------------------------------------

    async def refresh(self, event: bytes | None) -> None:
        meta: dict[bytes, bytes] = await self.redis.hgetall(self.cache.keys.meta)
        if b"generation" not in meta:
            if self.cache.snapshot is not None:  # restarted empty, or flushed: keep what we hold
                self._failed(NoSnapshot())
            return
        self._ok()
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
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.cache.keys.events)
                await self.refresh(None)  # whatever was published while we were not listening
                next_poll = time.monotonic() + self.poll_interval
                while True:
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
                await asyncio.sleep(self.retry_interval)
            except Exception:  # a corrupt meta or message must not end the follower: log it, go on
                log.exception("snapshot follower failed; retrying")
                self._failed(CacheError("follower failed"))
                await asyncio.sleep(self.retry_interval)
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
        if snap is None or not cache.redis_ok:  # the follower probes; a request never waits on a dead Redis
            for code in missing:
                found[code] = UNREAD
            return found
        epoch = cache.epoch
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for code in missing:
                    pipe.hget(snap.bucket_key(code), code)
                pipe.hget(cache.keys.meta, "generation")
                *raws, live = await pipe.execute(raise_on_error=False)
            if live != snap.generation_tag:  # moved on, or gone: nils say nothing about the registry
                cache.absorb(snap, -1, missing, raws, found)
                for code in missing:
                    if found.get(code) is None:
                        found[code] = UNREAD
                if live is None:
                    self._failed(NoSnapshot())
                return found
            overflow = cache.absorb(snap, epoch, missing, raws, found)
            if overflow:
                raws = await self.redis.hmget(snap.overflow_key, overflow)
                cache.absorb(snap, epoch, overflow, raws, found)
        except ResponseError as exc:  # a key of the wrong type: those lines unverified, Redis is fine
            log.error("snapshot read refused by redis (%s); lines unverified", exc)
            for code in missing:
                found.setdefault(code, UNREAD)
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
        if self.cache.redis_ok:
            log.warning("redis unreachable or without a snapshot (%s); answering from the snapshot held",
                        type(exc).__name__)
        self.cache.redis_ok = False
