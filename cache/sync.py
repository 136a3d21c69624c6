"""The sync job: scoring store → rules engine → a snapshot in Redis (`drgate sync`).

A full sync writes a new generation of keys beside the live one, then flips ``meta`` to it in
one MULTI/EXEC: a reader sees the old snapshot or the new one, never a mix and never nothing.
The old generation expires after ``GRACE_SECONDS``; generations left by a crashed sync are
removed by the next one.  An incremental sync rewrites only the physicians and institutions
changed since the published watermark, in one transaction, and names them in the invalidation
message so gateways drop exactly those.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import redis

from cache.errors import ShrinkRefused, SyncLocked
from cache.fullsync import PackedBuckets, build_buckets
from cache.keys import GRACE_SECONDS, LISTPACK_VALUE_MAX, LOCK_TTL_MS, OVERFLOW, Keys, bucket_count, bucket_of
from cache.layout import encode_institution, encode_physician
from rules.calendar import WorkingCalendar
from rules.engine import evaluate
from rules.model import PhysicianFacts, PhysicianRecord
from rules.profiles import Profile
from rules.store import Store

__all__ = ["SyncResult", "Syncer", "read_meta"]

log = logging.getLogger(__name__)

# Compare-and-delete / compare-and-extend: only the owner token may release or renew the lock.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


@dataclass(frozen=True, slots=True)
class SyncResult:
    mode: str  # "full" | "incremental"
    generation: int
    version: int
    physicians: int
    institutions: int
    changed: int
    watermark: int
    seconds: float
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}


def read_meta(client: redis.Redis, keys: Keys) -> dict[str, str]:
    raw: dict[bytes, bytes] = client.hgetall(keys.meta)  # type: ignore[assignment]
    return {k.decode(): v.decode() for k, v in raw.items()}


class Syncer:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        store: Store,
        profile: Profile,
        calendar: WorkingCalendar | None = None,  # None: the process-wide China calendar
        *,
        max_shrink: float = 0.05,
        grace_seconds: int = GRACE_SECONDS,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.redis = client
        self.keys = keys
        self.store = store
        self.profile = profile
        self.calendar = calendar
        self.max_shrink = max_shrink
        self.grace_seconds = grace_seconds
        self.progress = progress
        self._token = uuid.uuid4().hex

    # -- lock (one sync at a time) -------------------------------------------------------------

    @contextmanager
    def lock(self, *, wait: float = 0.0) -> Iterator[None]:
        deadline = time.monotonic() + wait
        while not self.redis.set(self.keys.lock, self._token, nx=True, px=LOCK_TTL_MS):
            if time.monotonic() >= deadline:
                holder = self.redis.pttl(self.keys.lock)
                raise SyncLocked(f"another sync holds the lock (expires in {holder} ms); try again or use --wait")
            time.sleep(0.2)
        try:
            yield
        finally:
            self.redis.eval(_RELEASE, 1, self.keys.lock, self._token)

    def _renew(self) -> None:
        self.redis.eval(_RENEW, 1, self.keys.lock, self._token, LOCK_TTL_MS)

    # -- full ------------------------------------------------------------------------------------

    def full(self, *, dry_run: bool = False, allow_shrink: bool = False) -> SyncResult:
        started = time.perf_counter()
        meta = read_meta(self.redis, self.keys)
        watermark = self.store.watermark()  # read first: changes made during the read go next time
        expected = self.store.count_physicians()
        nbuckets = bucket_count(expected)
        # One ordered scan, the engine only for the few with sanctions or credits (cache.fullsync).
        buckets = build_buckets(self.store, self.profile, self.calendar, nbuckets, self.progress)
        overflow, count = buckets.overflow, buckets.count
        institutions = {i.code: encode_institution(i) for i in self.store.institution_records(self.profile)}
        current = int(meta.get("physicians", 0))
        if current and not allow_shrink and count < current * (1 - self.max_shrink):
            raise ShrinkRefused(current, count, self.max_shrink)
        version = int(meta.get("version", 0)) + 1
        if dry_run:
            return SyncResult("full", int(meta.get("generation", 0)), version - 1, count, len(institutions), count,
                              watermark, time.perf_counter() - started, True)
        self._clean_generations(int(meta.get("generation", 0)))
        generation = int(self.redis.incr(self.keys.seq))  # type: ignore[arg-type]
        self._mark(generation, "building", nbuckets)
        self._write_generation(generation, buckets, overflow, institutions)
        new_meta = {
            "generation": generation, "version": version, "buckets": nbuckets, "physicians": count,
            "institutions": len(institutions), "watermark": watermark, "profile": self.profile.name,
            **_now(),
        }
        event = orjson.dumps({"v": version, "g": generation, "p": None, "i": None})
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.meta, mapping=new_meta)  # type: ignore[arg-type]
            pipe.hset(self.keys.gens, str(generation), _gen_state("live", nbuckets))
            pipe.publish(self.keys.events, event)
            pipe.execute()
        self._retire(meta)
        result = SyncResult("full", generation, version, count, len(institutions), count, watermark,
                            time.perf_counter() - started)
        log.info("full sync published generation %d version %d: %d physicians in %.1fs",
                 generation, version, count, result.seconds)
        return result

    def _records(self, facts: Iterable[PhysicianFacts]) -> Iterator[PhysicianRecord]:
        for f in facts:
            if f.violations or f.sanctions or f.credits or f.restorations:
                yield evaluate(self.profile, f, self.calendar).record
            else:  # nothing to evaluate: the record is the agreements (the common case)
                yield PhysicianRecord(f.code, f.agreements)

    def _write_generation(self, generation: int, buckets: PackedBuckets, overflow: dict[str, bytes],
                          institutions: dict[str, bytes]) -> None:
        buckets.write(self.redis, lambda b: self.keys.bucket(generation, b), between=self._renew)
        pipe = self.redis.pipeline(transaction=False)
        if overflow:
            pipe.hset(self.keys.overflow(generation), mapping=overflow)  # type: ignore[arg-type]
        if institutions:
            pipe.hset(self.keys.institutions(generation), mapping=institutions)  # type: ignore[arg-type]
        pipe.execute()

    # -- incremental -----------------------------------------------------------------------------

    def incremental(self, *, dry_run: bool = False) -> SyncResult:
        """Publish what changed since the published watermark; a full sync when nothing is published."""
        started = time.perf_counter()
        meta = read_meta(self.redis, self.keys)
        if "generation" not in meta:
            return self.full(dry_run=dry_run)
        generation, nbuckets = int(meta["generation"]), int(meta["buckets"])
        change = self.store.changes_since(int(meta.get("watermark", 0)))
        version = int(meta["version"]) + (1 if change.physicians or change.institutions else 0)
        records = {r.code: r for r in self._records(self.store.physician_facts(change.physicians))}
        institutions = {i.code: i for i in self.store.institution_records(self.profile, change.institutions)}
        count = int(meta.get("physicians", 0))
        if dry_run or not (change.physicians or change.institutions):
            return SyncResult("incremental", generation, version, count, int(meta.get("institutions", 0)),
                              len(change.physicians) + len(change.institutions), change.watermark,
                              time.perf_counter() - started, dry_run)
        codes = sorted(change.physicians)
        # Under the lock nobody else writes: what exists now is what the transaction replaces.
        with self.redis.pipeline(transaction=False) as pipe:
            for code in codes:
                pipe.hexists(self.keys.bucket(generation, bucket_of(code, nbuckets)), code)
            existed = {code for code, there in zip(codes, pipe.execute(), strict=True) if there}
        delta = len(set(records).difference(existed)) - len(existed.difference(records))
        count += delta
        with self.redis.pipeline(transaction=True) as pipe:
            for code in codes:
                bucket = self.keys.bucket(generation, bucket_of(code, nbuckets))
                record = records.get(code)
                if record is None:  # gone from the store
                    pipe.hdel(bucket, code)
                    pipe.hdel(self.keys.overflow(generation), code)
                    continue
                value = encode_physician(record)
                if len(value) > LISTPACK_VALUE_MAX:
                    pipe.hset(self.keys.overflow(generation), code, value)
                    value = OVERFLOW
                else:
                    pipe.hdel(self.keys.overflow(generation), code)
                pipe.hset(bucket, code, value)
            for code in sorted(change.institutions):
                if code in institutions:
                    pipe.hset(self.keys.institutions(generation), code, encode_institution(institutions[code]))
                else:
                    pipe.hdel(self.keys.institutions(generation), code)
            pipe.hset(self.keys.meta, mapping={"version": version, "watermark": change.watermark, **_now()})
            pipe.hincrby(self.keys.meta, "physicians", delta)
            pipe.publish(self.keys.events, orjson.dumps({
                "v": version, "g": generation, "p": sorted(change.physicians), "i": sorted(change.institutions),
            }))
            pipe.execute()
        result = SyncResult("incremental", generation, version, count, int(meta.get("institutions", 0)),
                            len(change.physicians) + len(change.institutions), change.watermark,
                            time.perf_counter() - started)
        log.info("incremental sync published version %d: %d changed", version, result.changed)
        return result

    # -- generations -----------------------------------------------------------------------------

    def _mark(self, generation: int, state: str, buckets: int) -> None:
        self.redis.hset(self.keys.gens, str(generation), _gen_state(state, buckets))

    def _retire(self, old_meta: dict[str, str]) -> None:
        """Let the replaced generation expire after the grace period."""
        if "generation" not in old_meta:
            return
        old, buckets = int(old_meta["generation"]), int(old_meta["buckets"])
        pipe = self.redis.pipeline(transaction=False)
        for key in self.keys.generation_keys(old, buckets):
            pipe.expire(key, self.grace_seconds)
        pipe.hset(self.keys.gens, str(old), _gen_state("retired", buckets))
        pipe.execute()

    def _clean_generations(self, live: int) -> None:
        """Delete what crashed syncs left, and forget retired generations past their grace."""
        states: dict[bytes, bytes] = self.redis.hgetall(self.keys.gens)  # type: ignore[assignment]
        now = time.time()
        for gen_raw, state_raw in states.items():
            gen = int(gen_raw)
            state = orjson.loads(state_raw)
            if gen == live:
                continue
            if state["state"] == "retired" and now - state["at"] < self.grace_seconds:
                continue  # still expiring by itself
            keys = self.keys.generation_keys(gen, int(state["buckets"]))
            for i in range(0, len(keys), 1000):
                self.redis.unlink(*keys[i : i + 1000])
            self.redis.hdel(self.keys.gens, gen_raw)
            log.info("removed generation %d (%s)", gen, state["state"])


def _gen_state(state: str, buckets: int) -> bytes:
    return orjson.dumps({"state": state, "buckets": buckets, "at": time.time()})


def _now() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"published_at": now.isoformat(timespec="milliseconds"), "published_ts": f"{now.timestamp():.3f}"}
