"""The asyncio reader of the HTTP gateway: one pipelined round trip per claim on a miss, none on a hit.

A background task follows the sync's invalidation channel and polls ``meta`` every
``poll_interval`` seconds as a backstop, so a publication reaches this worker within about a
second even when a message is lost.  While Redis is down (or holds no snapshot: restarted
empty) requests do not touch Redis at all: the reader answers from what it holds and lines it
cannot resolve are ``UNREAD`` (→ ``unverified``), never a stall.  The follower alone probes, every
``retry_interval``, and its first good read of ``meta`` brings requests back to Redis.

Each fetch also reads ``meta``'s generation id: a nil from a generation that is no longer the
published one (an expired old snapshot, a Redis restarted empty) is ``UNREAD``, never "not in the
registry": that would reject every line of a known physician.

When the snapshot fits in the cache, a second task preloads it, a few buckets per round trip
between requests; from then on the cache is complete and a check makes no round trip at all.
With a snapshot file (``cache.disk``), a third task keeps it at the last publication verified
(``cache.keeper``), and a worker that starts while Redis is down or empty answers from it.
A new generation (a full sync) starts a new preload; until it ends, misses are fetched per claim.

The API keys published with the snapshot (``cache.callers``) are handed to ``on_callers`` (the
gateway's ``KeyRing``) whenever meta names a table other than the one last handed over.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from cache.callers import META_FIELD
from cache.disk import SnapshotFile
from cache.errors import CacheError, NoSnapshot
from cache.keys import OVERFLOW
from cache.snapshot_cache import UNREAD, SnapshotCache

__all__ = ["PRELOAD_BUCKETS", "AsyncSnapshotReader"]

log = logging.getLogger(__name__)

#: Buckets a preload round trip reads (~48 records each): ~3,000 records, a few ms of decoding
#: between two requests of the event loop.
PRELOAD_BUCKETS = 64


class AsyncSnapshotReader:
    def __init__(self, client: aioredis.Redis, cache: SnapshotCache, *, poll_interval: float = 0.5,
                 retry_interval: float = 0.2, preload: bool = True, file: SnapshotFile | None = None,
                 file_interval: float = 60.0,
                 on_callers: Callable[[Mapping[bytes, bytes], bytes | None], None] | None = None) -> None:
        self.redis = client
        self.on_callers = on_callers
        self._callers_id: bytes | None = None
        self.cache = cache
        self.poll_interval = poll_interval
        self.retry_interval = retry_interval  # pause of the follower between reconnection attempts
        self.preload = preload
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._loader: asyncio.Task[None] | None = None
        self._loading = b""  # generation id the running preload reads
        self.file = file
        self.file_interval = file_interval
        self._keeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.refresh(None)
        if self.file is not None:
            from cache.keeper import SnapshotKeeper, restore

            if self.cache.snapshot is None:  # Redis down or empty: the last snapshot this host verified
                loaded = await asyncio.to_thread(self.file.load)
                if loaded is not None and restore(self.cache, loaded):
                    gc.freeze()
                if loaded is not None and self.on_callers is not None:  # the keys as that publication had them
                    table_id = loaded.meta.get(META_FIELD.encode())
                    self.on_callers(loaded.callers, table_id)
                    self._callers_id = table_id
            keeper = SnapshotKeeper(self.redis, self.cache, self.file, interval=self.file_interval)
            self._keeper = asyncio.create_task(keeper.run(), name="drgate-snapshot-file")
        self._task = asyncio.create_task(self._follow(), name="drgate-snapshot-follower")

    async def stop(self) -> None:
        # A flag as well as cancel(): redis-py may swallow a cancellation inside get_message.
        self._stopping = True
        tasks = {task for task in (self._task, self._loader, self._keeper) if task is not None}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)

    # -- following publications -------------------------------------------------------------

    async def refresh(self, event: bytes | None) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.cache.keys.meta)
            pipe.hgetall(self.cache.keys.sync)
            meta, last = await pipe.execute()
        self.cache.note_sync(last)
        if b"generation" not in meta:
            if self.cache.snapshot is not None:  # restarted empty, or flushed: keep what we hold
                self.cache.mark_failed(NoSnapshot())
            return
        if not self.cache.redis_ok:
            await self._drop_idle_connections()
        self.cache.mark_ok()
        if self.on_callers is not None and meta.get(META_FIELD.encode()) != self._callers_id:
            await self._install_callers(meta.get(META_FIELD.encode()))
        reload_institutions, physicians = self.cache.plan_refresh(meta, event)
        if physicians == [] and not reload_institutions:
            self.cache.renew(meta)  # the same publication: its freshness, the last sync
            return
        snap = self.cache.snapshot
        aliases = None
        if reload_institutions or snap is None:
            generation = int(meta[b"generation"])
            institutions = await self.redis.hgetall(self.cache.keys.institutions(generation))
            aliases = await self.redis.hgetall(self.cache.keys.aliases(generation))  # published with them
        else:
            institutions = None
        new = self.cache.build(meta, institutions or {}, aliases)  # type: ignore[arg-type]
        if institutions is None and snap is not None:
            new = replace(new, institutions=snap.institutions, aliases=snap.aliases)
        # The changed records are read after their message: as new as it, or newer.
        fetched = None if physicians is None else await self._fetch_raw(new, physicians) if physicians else {}
        self.cache.install(new, physicians, fetched)
        self.cache.renew(meta)
        log.info("snapshot %s installed (generation %d version %d)", new.id, new.generation, new.version)
        self._ensure_preload()

    async def _install_callers(self, table_id: bytes | None) -> None:
        """Hand the published API keys to ``on_callers``: read after the meta naming them, as new or newer."""
        assert self.on_callers is not None
        raw: dict[bytes, bytes] = await self.redis.hgetall(self.cache.keys.callers) if table_id is not None else {}  # type: ignore[assignment]
        self.on_callers(raw, table_id)
        self._callers_id = table_id

    def _ensure_preload(self) -> None:
        """Start a preload unless one runs for this generation (an older one stops by itself)."""
        snap = self.cache.snapshot
        if not self.preload or snap is None or not self.cache.preloadable():
            return
        if self._loader is not None and not self._loader.done() and self._loading == snap.generation_tag:
            return
        self._loading = snap.generation_tag
        self._loader = asyncio.create_task(self._preload(), name="drgate-snapshot-preload")

    async def _fetch_raw(self, snap: Any, codes: list[str]) -> dict[str, bytes | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for code in codes:
                pipe.hget(snap.bucket_key(code), code)
            raws = await pipe.execute()
        fetched: dict[str, bytes | None] = dict(zip(codes, raws, strict=True))
        overflow = [code for code, raw in fetched.items() if raw == OVERFLOW]
        if overflow:
            extra: list[bytes | None] = await self.redis.hmget(snap.overflow_key, overflow)  # type: ignore[assignment]
            fetched.update(zip(overflow, extra, strict=True))
        return fetched

    async def _preload(self) -> None:
        """Read every bucket of the snapshot's generation into the cache, then mark it complete."""
        cache = self.cache
        snap = cache.snapshot
        if snap is None:
            return
        started = time.perf_counter()
        unreadable, evictions = cache.unreadable, cache.evictions
        keys = snap.bucket_keys
        try:
            for first in range(0, len(keys), PRELOAD_BUCKETS):
                while True:
                    epoch = cache.epoch
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for key in keys[first : first + PRELOAD_BUCKETS]:
                            pipe.hgetall(key)
                        replies = await pipe.execute()
                    if cache.snapshot is None or cache.snapshot.generation_tag != snap.generation_tag:
                        return  # a newer generation: its own preload takes over
                    if epoch == cache.epoch:
                        break
                    # A change was installed while these buckets were in flight: read them again.
                overflow = cache.absorb_buckets(replies)
                while overflow:
                    epoch = cache.epoch
                    raws = await self.redis.hmget(snap.overflow_key, overflow)
                    if epoch == cache.epoch:
                        cache.absorb(snap, epoch, overflow, raws, {})
                        break
        except (RedisError, OSError) as exc:
            self.cache.mark_failed(exc)
            log.warning("preload of generation %d stopped (%s); misses are fetched per claim",
                        snap.generation, type(exc).__name__)
            return
        current = cache.snapshot
        if (current is not None and current.generation_tag == snap.generation_tag and cache.unreadable == unreadable
                and cache.evictions == evictions):
            cache.complete = True
            # Out of the cyclic GC's sight: a full collection would otherwise walk every record
            # (millions of objects) and stall the event loop for tens of ms. Records hold no cycles.
            gc.freeze()
            log.info("snapshot generation %d preloaded: %d physicians in %.1fs", snap.generation,
                     len(cache.records), time.perf_counter() - started)

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
                        self._ensure_preload()  # after a preload stopped on a Redis error
                        next_poll = time.monotonic() + self.poll_interval
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.cache.mark_failed(exc)
                await asyncio.sleep(self.retry_interval)
            except Exception:  # a corrupt meta or message must not end the follower: log it, go on
                log.exception("snapshot follower failed; retrying")
                self.cache.mark_failed(CacheError("follower failed"))
                await asyncio.sleep(self.retry_interval)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    # -- lookups ---------------------------------------------------------------------------------

    def held(self, lookups: int) -> Mapping[str, Any] | None:
        """The cache's own mapping when the whole snapshot is held (``lookups`` counted as hits), else
        None: ``records_for``'s first case without a coroutine or a list of the codes, for the hot path."""
        cache = self.cache
        if cache.complete:
            cache.hits += lookups
            return cache.records
        return None

    async def records_for(self, codes: list[str]) -> tuple[Mapping[str, Any], Any]:
        """What a claim's lines are decided from: a mapping and the value of a code absent from it.

        With the whole snapshot held, the cache's own mapping, absent meaning not in the registry
        (None): no per-claim copy.  The caller must decide before its next ``await`` (the event
        loop installs changes between awaits only).  Else ``get_many``'s answer, absent UNREAD."""
        cache = self.cache
        if cache.complete:
            cache.hits += len(codes)
            return cache.records, None
        return await self.get_many(codes), UNREAD

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
                pipe.hget(cache.keys.meta, "generation_id")
                *raws, live = await pipe.execute(raise_on_error=False)
            if live != snap.generation_tag:  # moved on, or gone: nils say nothing about the registry
                return cache.absorb_stale(snap, missing, raws, found, live)
            overflow = cache.absorb(snap, epoch, missing, raws, found)
            if overflow:
                raws = await self.redis.hmget(snap.overflow_key, overflow)
                cache.absorb(snap, epoch, overflow, raws, found)
        except ResponseError as exc:
            return cache.unread(missing, found, exc, refused=True)
        except (RedisError, OSError) as exc:
            return cache.unread(missing, found, exc, refused=False)
        return found

    async def _drop_idle_connections(self) -> None:
        """Close the pooled connections left idle across an outage before requests use Redis again.

        They were opened to the Redis that went away; without retries each would fail one claim's
        read and mark Redis down again, for a poll interval, on every one of them.  Connections in
        use (the follower's, its subscription) stay."""
        pool = getattr(self.redis, "connection_pool", None)
        with contextlib.suppress(RedisError, OSError):
            if pool is not None:
                await pool.disconnect(inuse_connections=False)
            else:  # a cluster client: a pool per node
                for node in self.redis.get_nodes():  # type: ignore[attr-defined]
                    await node.disconnect_free_connections()
