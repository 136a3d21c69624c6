"""The sync job: scoring store → rules engine → a snapshot in Redis (`drgate sync`).

A full sync writes a new generation of keys beside the live one (each key with a TTL, so a
killed sync leaks nothing for long), then flips ``meta`` to it in one MULTI/EXEC that also
PERSISTs its keys and applies only while the sync still owns the lock: a reader sees the old
snapshot or the new one, never a mix and never nothing.  The old generation expires after
``GRACE_SECONDS``; generations left by a killed sync, and any older snapshot, are removed by the
next one.  The shrink guard (``cache.guard``) refuses a snapshot that would lose markedly more of
the published one's content (physicians, agreements, sanctions, credit D, institution sanctions,
physicians rejected today) than ``max_shrink``: a truncated or emptied export.

An incremental sync rewrites only the physicians and institutions
changed since the published watermark, in one transaction, and names them in the invalidation
message so gateways drop exactly those.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import redis
from redis.client import Pipeline
from redis.exceptions import WatchError

from cache.errors import LockLost, SyncError, SyncLocked
from cache.fullsync import PackedBuckets, build_buckets
from cache.guard import check_shrink, published_counts, published_records, published_tally, tally_change
from cache.keys import (
    BUILD_TTL_SECONDS,
    GRACE_SECONDS,
    LISTPACK_VALUE_MAX,
    LOCK_TTL_MS,
    OVERFLOW,
    Keys,
    bucket_count,
    bucket_of,
)
from cache.layout import encode_aliases, encode_institution, encode_physician
from cache.tally import COUNTS, institution_steps
from rules.calendar import WorkingCalendar, china_calendar
from rules.engine import evaluate
from rules.model import PhysicianFacts, PhysicianRecord
from rules.profiles import Profile
from rules.store import Store

__all__ = ["SyncResult", "Syncer", "china_today", "read_meta"]

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
    # Years whose adjusted working days (调休) the calendar does not know and in which a deadline
    # of this sync fell (a restoration window, 衢州 第二十二条): counted over plain weekends.
    calendar_unknown_years: tuple[int, ...] = ()
    calendar_known_through: int = 0  # the last year whose 调休 the calendar knows without a gap

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__}
        out["calendar_unknown_years"] = list(self.calendar_unknown_years)
        return out


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
        calendar: WorkingCalendar | None = None,
        *,
        max_shrink: float = 0.05,
        grace_seconds: int = GRACE_SECONDS,
        lock_ttl_ms: int = LOCK_TTL_MS,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.redis = client
        self.keys = keys
        self.store = store
        self.profile = profile
        self.calendar = calendar or china_calendar()
        self.max_shrink = max_shrink
        self.grace_seconds = grace_seconds
        self.lock_ttl_ms = lock_ttl_ms
        self.progress = progress
        self._token = uuid.uuid4().hex
        self._held = False  # inside lock(): publish only while holding it
        self._lost = False  # set by the lock's watchdog

    # -- lock (one sync at a time) -------------------------------------------------------------

    @contextmanager
    def lock(self, *, wait: float = 0.0) -> Iterator[None]:
        """Hold the sync lock (owner token, TTL); ``SyncLocked`` when another sync holds it past ``wait``.

        A watchdog thread renews it every third of its TTL, whatever the sync is busy with (a
        long SQL read included); a killed sync stops renewing and its lock expires by itself.
        """
        deadline = time.monotonic() + wait
        while not self.redis.set(self.keys.lock, self._token, nx=True, px=self.lock_ttl_ms):
            if time.monotonic() >= deadline:
                holder = self.redis.pttl(self.keys.lock)
                raise SyncLocked(f"another sync holds the lock (expires in {holder} ms); try again or use --wait")
            time.sleep(0.2)
        stop = threading.Event()
        watchdog = threading.Thread(target=self._renew_until, args=(stop,), name="drgate-sync-lock", daemon=True)
        self._held, self._lost = True, False
        watchdog.start()
        try:
            yield
        finally:
            stop.set()
            watchdog.join()
            self._held = False
            try:
                self.redis.eval(_RELEASE, 1, self.keys.lock, self._token)
            except (redis.RedisError, OSError) as exc:  # it expires by itself; do not hide the real error
                log.warning("could not release the sync lock (%s); it expires in %d ms",
                            type(exc).__name__, self.lock_ttl_ms)

    def _renew_until(self, stop: threading.Event) -> None:
        while not stop.wait(self.lock_ttl_ms / 3000):
            try:
                renewed = self.redis.eval(_RENEW, 1, self.keys.lock, self._token, self.lock_ttl_ms)
            except (redis.RedisError, OSError) as exc:
                log.warning("could not renew the sync lock (%s); retrying", type(exc).__name__)
                continue
            if not renewed:
                log.error("the sync lock expired or was taken by another sync; this sync will not publish")
                self._lost = True
                return

    def _keep_lock(self) -> None:
        """``LockLost`` once the watchdog found the lock expired or taken: stop working early."""
        if self._held and self._lost:
            raise LockLost()

    def _publish(self, writes: Callable[[Pipeline], None], event: bytes) -> None:
        """Run ``writes`` in one MULTI/EXEC that applies only while this sync still owns the lock,
        then announce ``event`` to the gateways.

        WATCH on the lock fences a sync whose lock expired (a stall, a restarted Redis): it
        cannot flip over the sync that took the lock after it.  The message goes after EXEC, not
        inside it: a cluster refuses PUBLISH in a transaction.  A gateway that gets it reads the
        new meta; one that misses it (this sync dies here) finds the change by its meta poll.
        """
        with self.redis.pipeline(transaction=True) as pipe:
            if self._held:
                pipe.watch(self.keys.lock)  # type: ignore[no-untyped-call]
                if pipe.get(self.keys.lock) != self._token.encode():
                    raise LockLost()
                pipe.multi()
            writes(pipe)
            try:
                pipe.execute()
            except WatchError:
                raise LockLost() from None
        self.redis.publish(self.keys.events, event)

    # -- full ------------------------------------------------------------------------------------

    def full(self, *, dry_run: bool = False, allow_shrink: bool = False) -> SyncResult:
        self.calendar.take_uncertain()
        return self._calendar_checked(self._full(dry_run=dry_run, allow_shrink=allow_shrink))

    def incremental(self, *, dry_run: bool = False, allow_shrink: bool = False) -> SyncResult:
        self.calendar.take_uncertain()
        return self._calendar_checked(self._incremental(dry_run=dry_run, allow_shrink=allow_shrink))

    def _calendar_checked(self, result: SyncResult) -> SyncResult:
        unknown = self.calendar.take_uncertain()
        if unknown:
            log.warning("deadlines fall in %s, whose adjusted working days (调休) the calendar does not know: "
                        "counted over plain weekends; add the State Council's schedule to DRGATE_CALENDAR_FILE",
                        ", ".join(map(str, unknown)))
        return replace(result, calendar_unknown_years=unknown, calendar_known_through=self.calendar.known_until())

    def _full(self, *, dry_run: bool = False, allow_shrink: bool = False) -> SyncResult:
        started = time.perf_counter()
        meta = read_meta(self.redis, self.keys)
        watermark = self.store.watermark()  # read first: changes made during the read go next time
        expected = self.store.count_physicians()
        nbuckets = bucket_count(expected)
        old = int(meta.get("generation", 0))
        generation = 0
        written: list[str] = []
        if not dry_run:
            self._drop_generations(keep={old}, states=("building",))  # what killed syncs left, before building
            generation = int(self.redis.incr(self.keys.seq))
            self._mark(generation, "building", nbuckets)
        try:
            # One ordered scan, the engine only for the few with sanctions or credits (cache.fullsync).
            buckets = build_buckets(self.store, self.profile, self.calendar, nbuckets, self.progress,
                                    between=self._keep_lock)
            count = buckets.count
            institutions = {}
            for record in self.store.institution_records(self.profile):
                institutions[record.code] = encode_institution(record)
                buckets.tally.add(institution_steps(record))
            today = china_today()
            counts = buckets.tally.on(today)
            aliases = {code: encode_aliases(found) for code, found in self.store.aliases().items()}
            if not allow_shrink:
                check_shrink(published_counts(published_tally(self.redis, self.keys, meta), meta, today), counts,
                             self.max_shrink)
            version = int(meta.get("version", 0)) + 1
            if dry_run:
                return SyncResult("full", old, version - 1, count, len(institutions), count,
                                  watermark, time.perf_counter() - started, True)
            written = self._write_generation(generation, buckets, buckets.overflow, institutions, aliases)
            self._check_written(written)
        except BaseException:
            if generation:  # the unpublished generation goes now, not at the next full sync
                self._drop_generations(keep=set(), states=("building",), only=generation)
            raise
        new_meta = {
            "generation": generation, "version": version, "buckets": nbuckets, **counts,
            "institutions": len(institutions), "watermark": watermark, "profile": self.profile.name, **_now(),
        }

        def flip(pipe: Pipeline) -> None:
            for key in sorted(written):
                pipe.persist(key)
            pipe.hset(self.keys.meta, mapping=new_meta)  # type: ignore[arg-type]
            pipe.hset(self.keys.gens, str(generation), _gen_state("live", nbuckets))

        self._publish(flip, orjson.dumps({"v": version, "g": generation, "p": None, "i": None}))
        self._retire(meta)
        # Redis now holds the live snapshot and the one it replaced (expiring), nothing older.
        self._drop_generations(keep={generation, old}, states=("building", "live", "retired"))
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
                          institutions: dict[str, bytes], aliases: dict[str, bytes]) -> list[str]:
        """Write the generation's hashes, each with BUILD_TTL_SECONDS until the flip; the keys written."""
        written = buckets.write(self.redis, lambda b: self.keys.bucket(generation, b), ttl=BUILD_TTL_SECONDS,
                                between=self._keep_lock)
        pipe = self.redis.pipeline(transaction=False)

        def put(key: str, mapping: Mapping[str, bytes | int]) -> None:
            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
            pipe.expire(key, BUILD_TTL_SECONDS)
            written.append(key)

        if overflow:
            put(self.keys.overflow(generation), overflow)
        if institutions:
            put(self.keys.institutions(generation), institutions)
        put(self.keys.tally(generation), buckets.tally.fields())
        if aliases:
            put(self.keys.aliases(generation), aliases)
        pipe.execute()
        return written

    def _check_written(self, written: list[str]) -> None:
        """Every key written is still there (none expired, none deleted by an operator)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for i in range(0, len(written), 1000):
                pipe.exists(*written[i : i + 1000])
            present = sum(pipe.execute())
        if present != len(written):
            raise SyncError(f"{len(written) - present} of the {len(written)} keys written are gone before the "
                            "flip; nothing published")

    # -- incremental -----------------------------------------------------------------------------

    def _incremental(self, *, dry_run: bool = False, allow_shrink: bool = False) -> SyncResult:
        """Publish what changed since the published watermark; a full sync when nothing is published."""
        started = time.perf_counter()
        meta = read_meta(self.redis, self.keys)
        if "generation" not in meta or meta.get("profile", self.profile.name) != self.profile.name:
            return self._full(dry_run=dry_run, allow_shrink=allow_shrink)
        generation, nbuckets = int(meta["generation"]), int(meta["buckets"])
        change = self.store.changes_since(int(meta.get("watermark", 0)))
        version = int(meta["version"]) + (1 if change.physicians or change.institutions else 0)
        records = {r.code: r for r in self._records(self.store.physician_facts(change.physicians))}
        institutions = {i.code: i for i in self.store.institution_records(self.profile, change.institutions)}
        changed = self.store.aliases(change.institutions) if change.institutions else {}
        aliases = {code: encode_aliases(found) for code, found in changed.items()}
        count = int(meta.get("physicians", 0))
        if not (change.physicians or change.institutions):
            return SyncResult("incremental", generation, version, count, int(meta.get("institutions", 0)),
                              0, change.watermark, time.perf_counter() - started, dry_run)
        codes, institution_codes = sorted(change.physicians), sorted(change.institutions)
        # Under the lock nobody else writes: what is published now is what the transaction replaces.
        old, old_institutions = published_records(self.redis, self.keys, generation, nbuckets, codes,
                                                  institution_codes)
        change_tally = tally_change(old, records, old_institutions, institutions)
        published = published_tally(self.redis, self.keys, meta)
        today = china_today()
        before, moved = published_counts(published, meta, today), change_tally.on(today)
        counts = {name: before.get(name, 0) + moved[name] for name in COUNTS}
        if not allow_shrink:
            check_shrink(before, counts, self.max_shrink)
        delta = moved["physicians"]
        count += delta
        if dry_run:
            return SyncResult("incremental", generation, version, count, int(meta.get("institutions", 0)),
                              len(change.physicians) + len(change.institutions), change.watermark,
                              time.perf_counter() - started, True)

        def apply(pipe: Pipeline) -> None:
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
                pipe.hset(self.keys.aliases(generation), code, aliases.get(code, b"[]"))  # they travel with it
            pipe.hset(self.keys.meta, mapping={"version": version, "watermark": change.watermark, **_now()})  # type: ignore[dict-item]
            pipe.hincrby(self.keys.meta, "physicians", delta)
            if published is not None:  # the tally stays exact: the change's steps, added
                for field, steps in change_tally.fields().items():
                    if steps:
                        pipe.hincrby(self.keys.tally(generation), field, steps)
                pipe.hset(self.keys.meta, mapping={n: c for n, c in counts.items() if n != "physicians"})

        event = {"v": version, "g": generation, "p": codes, "i": sorted(change.institutions)}
        self._publish(apply, orjson.dumps(event))
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

    def _drop_generations(self, keep: set[int], states: tuple[str, ...], only: int | None = None) -> None:
        """Delete the generations in ``states`` except those in ``keep`` (or just ``only``): killed
        builds, old snapshots, a build the shrink guard refused."""
        found: dict[bytes, bytes] = self.redis.hgetall(self.keys.gens)  # type: ignore[assignment]
        for gen_raw, state_raw in found.items():
            gen = int(gen_raw)
            state = orjson.loads(state_raw)
            if gen in keep or state["state"] not in states or (only is not None and gen != only):
                continue
            keys = self.keys.generation_keys(gen, int(state["buckets"]))
            for i in range(0, len(keys), 1000):
                self.redis.unlink(*keys[i : i + 1000])
            self.redis.hdel(self.keys.gens, gen_raw)
            log.info("removed generation %d (%s)", gen, state["state"])


def _gen_state(state: str, buckets: int) -> bytes:
    return orjson.dumps({"state": state, "buckets": buckets, "at": time.time()})


def china_today() -> int:
    """Day ordinal of today in Asia/Shanghai (no daylight saving time)."""
    return datetime.now(timezone(timedelta(hours=8))).date().toordinal()


def _now() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"published_at": now.isoformat(timespec="milliseconds"), "published_ts": f"{now.timestamp():.3f}"}
