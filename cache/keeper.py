"""Keeps a gateway host's snapshot file (``cache.disk``) at the last publication it verified.

A background task of the asyncio reader: once the worker holds a whole snapshot (its preload
complete) and Redis answers, it reads the published snapshot from Redis again, a few hundred
buckets a round trip between requests, frames and hashes them in a thread, and writes the file
if the digest is the published one and no publication came in between.  At most one dump every
``interval`` seconds, none while the file already holds the publication.  Measured: see
BENCHMARKS.md (``python -m bench.snapshot_file``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cache.callers import META_FIELD, table_id
from cache.disk import Loaded, SnapshotFile, frame_buckets
from cache.errors import SnapshotFileRefused
from cache.snapshot_cache import SnapshotCache

__all__ = ["SnapshotKeeper", "restore"]

log = logging.getLogger(__name__)

#: Buckets a dump reads a round trip (~48 records each).
DUMP_BUCKETS = 256


class SnapshotKeeper:
    def __init__(self, client: aioredis.Redis, cache: SnapshotCache, file: SnapshotFile, *,
                 interval: float = 60.0) -> None:
        self.redis = client
        self.cache = cache
        self.file = file
        self.interval = interval
        self.written: str | None = None  # the publication id last written (or found) in the file
        self._last_try = float("-inf")

    async def run(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            snap, cache = self.cache.snapshot, self.cache
            if (snap is None or not cache.complete or not cache.redis_ok or snap.id == self.written
                    or time.monotonic() - self._last_try < self.interval):
                continue
            self._last_try = time.monotonic()
            try:
                await self.dump(snap.id)
            except (RedisError, OSError) as exc:
                log.warning("snapshot file %s not written (%s); next try in %.0fs", self.file.path,
                            type(exc).__name__, self.interval)
            except SnapshotFileRefused as exc:
                log.error("snapshot file %s not written: %s", self.file.path, exc)

    async def dump(self, publication: str) -> bool:
        """Write publication ``publication`` to the file; False when another worker writes, the file
        holds it already, or Redis moved on to another publication meanwhile."""
        started = time.perf_counter()
        with self.file.exclusive() as mine:
            if not mine:
                return False
            if await asyncio.to_thread(self.file.held_id) == publication:
                self.written = publication
                return False
            keys = self.cache.keys
            meta: dict[bytes, bytes] = await self.redis.hgetall(keys.meta)  # type: ignore[assignment]
            if meta.get(b"id", b"").decode() != publication:
                return False
            generation = int(meta[b"generation"])
            bucket_keys = keys.buckets(generation, int(meta[b"buckets"]))
            framed: list[bytes] = []
            for first in range(0, len(bucket_keys), DUMP_BUCKETS):
                async with self.redis.pipeline(transaction=False) as pipe:
                    for key in bucket_keys[first : first + DUMP_BUCKETS]:
                        pipe.hgetall(key)
                    replies = await pipe.execute()
                framed += await asyncio.to_thread(frame_buckets, replies)
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hgetall(keys.overflow(generation))
                pipe.hgetall(keys.institutions(generation))
                pipe.hgetall(keys.aliases(generation))
                pipe.hgetall(keys.callers)
                pipe.hget(keys.meta, "id")
                overflow, institutions, aliases, callers, still = await pipe.execute()
            if still != meta[b"id"]:  # a publication came in during the read: the next round
                return False
            named = meta.get(META_FIELD.encode())  # the id of the keys' table this publication names, if any
            read = table_id(callers).encode() if callers or named is not None else None
            if read != named:  # the table moved during the read: the next round
                return False
            size = await asyncio.to_thread(self.file.write, meta, framed, overflow, institutions, aliases, callers)
        self.written = publication
        log.info("snapshot %s written to %s: %d physicians, %.1f MB in %.2fs", publication, self.file.path,
                 int(meta.get(b"physicians", b"0")), size / 1e6, time.perf_counter() - started)
        return True


def restore(cache: SnapshotCache, loaded: Loaded) -> bool:
    """Install the snapshot of a file in ``cache``, whole: True when every record decoded."""
    snapshot = cache.build(loaded.meta, loaded.institutions, loaded.aliases)
    if snapshot.physicians > cache.capacity:
        log.warning("snapshot file holds %d physicians, more than DRGATE_CACHE_SIZE (%d); not used",
                    snapshot.physicians, cache.capacity)
        return False
    cache.install(snapshot, None)
    unreadable = cache.unreadable
    overflow = cache.absorb_buckets(loaded.buckets)
    raws: list[Any] = [loaded.overflow.get(code.encode()) for code in overflow]
    cache.absorb(snapshot, cache.epoch, overflow, raws, {})
    cache.complete = cache.unreadable == unreadable and all(raw is not None for raw in raws)
    log.warning("answering from the snapshot file: snapshot %s (version %d, verified %s), %d physicians; lines "
                "are stale until Redis serves a snapshot", snapshot.id, snapshot.version,
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(snapshot.verified_ts)), len(cache.records))
    return cache.complete
