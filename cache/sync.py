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

Every publication carries a new random ``id`` and the ``digest`` of its content (``cache.identity``):
readers compare ids, never the generation and version counters, which a Redis restarted empty
starts again from 1.  Every successful sync, one with nothing to change included, renews
``verified_at`` (freshness: `stale` counts from it); every sync that reaches Redis leaves its
time and outcome in ``{prefix}:sync`` for the gateways to show (``meta`` stays as it was).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import orjson
import redis
from redis.client import Pipeline
from redis.exceptions import WatchError

from cache.bucket_writer import PackedBuckets
from cache.callers import META_FIELD, encode_callers
from cache.codec import encode_aliases, encode_institution
from cache.digest import entries_term, hexdigest
from cache.errors import LockLost, ShrinkRefused, SyncError
from cache.generations import drop_generations, gen_state, mark_generation, retire_generation
from cache.guard import check_shrink, published_counts, published_records, published_tally, tally_change
from cache.identity import incremental_digest, new_id
from cache.keys import (
    BUILD_TTL_SECONDS,
    GRACE_SECONDS,
    LOCK_TTL_MS,
    Keys,
    bucket_count,
    bucket_of,
    bucket_value,
    overflows,
)
from cache.lock import SyncLock
from cache.meta import china_today, read_meta, stamp, sync_stamp
from cache.records import PhysicianRecords, records_of
from cache.tally import COUNTS, Tally, institution_steps
from rules.calendar import WorkingCalendar, china_calendar
from rules.profiles import Profile
from rules.store.api_keys import active_keys
from rules.store.scans import Store

__all__ = ["SyncResult", "Syncer"]

log = logging.getLogger(__name__)


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
        self._lock = SyncLock(client, keys.lock, lock_ttl_ms)
        self._callers: tuple[dict[str, bytes], str | None] | None = None  # the store's live keys, read once a run

    # -- lock (one sync at a time: cache.lock) ------------------------------------------------

    @contextmanager
    def lock(self, *, wait: float = 0.0) -> Iterator[None]:
        """Hold the sync lock; ``SyncLocked`` when another sync holds it past ``wait`` seconds."""
        with self._lock.hold(wait=wait):
            yield

    def _keep_lock(self) -> None:
        self._lock.check()

    def _publish(self, writes: Callable[[Pipeline], Any], event: bytes | None) -> None:
        """Run ``writes`` in one MULTI/EXEC that applies only while this sync still owns the lock,
        then announce ``event`` to the gateways.

        WATCH on the lock fences a sync whose lock expired (a stall, a restarted Redis): it
        cannot flip over the sync that took the lock after it.  The message goes after EXEC, not
        inside it: a cluster refuses PUBLISH in a transaction.  A gateway that gets it reads the
        new meta; one that misses it (this sync dies here) finds the change by its meta poll.
        """
        with self.redis.pipeline(transaction=True) as pipe:
            self._lock.fence(pipe)
            writes(pipe)
            try:
                pipe.execute()
            except WatchError:
                raise LockLost() from None
        if event is not None:
            self.redis.publish(self.keys.events, event)

    # -- full ------------------------------------------------------------------------------------

    def full(self, *, dry_run: bool = False, allow_shrink: bool = False) -> SyncResult:
        return self._run(self._full, dry_run, allow_shrink)

    def incremental(self, *, dry_run: bool = False, allow_shrink: bool = False) -> SyncResult:
        return self._run(self._incremental, dry_run, allow_shrink)

    def _run(self, work: Callable[..., SyncResult], dry_run: bool, allow_shrink: bool) -> SyncResult:
        self.calendar.take_uncertain()
        # Read now, outside the publishing transaction: a key added or revoked since goes with this run.
        self._callers = encode_callers(active_keys(self.store))
        try:
            result = work(dry_run=dry_run, allow_shrink=allow_shrink)
        except BaseException as exc:
            if not dry_run:
                self._record_failure(exc)
            raise
        return self._calendar_checked(result)

    def _record_failure(self, exc: BaseException) -> None:
        """Leave the failed sync's time and outcome (``meta`` untouched): what the gateways show on
        /readyz and /metrics.  Best effort: Redis may be what failed."""
        outcome = "shrink_refused" if isinstance(exc, ShrinkRefused) else (
            "lock_lost" if isinstance(exc, LockLost) else "failed")
        with contextlib.suppress(redis.RedisError, OSError):
            self.redis.hset(self.keys.sync, mapping=sync_stamp(outcome))  # type: ignore[arg-type]

    def _verified(self, pipe: Pipeline) -> None:
        """A successful sync's stamp, in its transaction: the snapshot is current as of now, and so
        are the API keys published with it (``cache.callers``)."""
        fields, table_id = self._callers or encode_callers(active_keys(self.store))
        pipe.delete(self.keys.callers)
        if fields:
            pipe.hset(self.keys.callers, mapping=fields)  # type: ignore[arg-type]
        if table_id is None:
            pipe.hdel(self.keys.meta, META_FIELD)
        else:
            pipe.hset(self.keys.meta, META_FIELD, table_id)
        pipe.hset(self.keys.meta, mapping=stamp("verified"))  # type: ignore[arg-type]
        pipe.hset(self.keys.sync, mapping=sync_stamp("ok"))  # type: ignore[arg-type]

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
            # What killed syncs left, before building.
            drop_generations(self.redis, self.keys, keep={old}, states=("building",))
            generation = int(self.redis.incr(self.keys.seq))
            mark_generation(self.redis, self.keys, generation, "building", nbuckets)
        try:
            buckets, tally = self._build_buckets(nbuckets)
            count = buckets.count
            institutions = {}
            for record in self.store.institution_records(self.profile):
                institutions[record.code] = encode_institution(record)
                tally.add(institution_steps(record))
            today = china_today()
            counts = tally.on(today)
            aliases = {code: encode_aliases(found) for code, found in self.store.aliases().items()}
            if not allow_shrink:
                check_shrink(published_counts(published_tally(self.redis, self.keys, meta), meta, today), counts,
                             self.max_shrink)
            version = int(meta.get("version", 0)) + 1
            if dry_run:
                return SyncResult("full", old, version - 1, count, len(institutions), count,
                                  watermark, time.perf_counter() - started, True)
            written = self._write_generation(generation, buckets, tally, institutions, aliases)
            self._check_written(written)
        except BaseException:
            if generation:  # the unpublished generation goes now, not at the next full sync
                drop_generations(self.redis, self.keys, keep=set(), states=("building",), only=generation)
            raise
        digest = hexdigest((buckets.buckets_term, entries_term(b"px", buckets.overflow),
                            entries_term(b"i", institutions)))
        publication = new_id()
        new_meta = {
            "generation": generation, "version": version, "buckets": nbuckets, **counts,
            "institutions": len(institutions), "watermark": watermark, "profile": self.profile.name,
            "id": publication, "generation_id": publication, "digest": digest, **stamp(),
        }

        def flip(pipe: Pipeline) -> None:
            for key in sorted(written):
                pipe.persist(key)
            pipe.hset(self.keys.meta, mapping=new_meta)  # type: ignore[arg-type]
            self._verified(pipe)
            pipe.hset(self.keys.gens, str(generation), gen_state("live", nbuckets))

        self._publish(flip, orjson.dumps({"v": version, "g": generation, "id": publication, "prev": meta.get("id"),
                                          "p": None, "i": None}))
        retire_generation(self.redis, self.keys, meta, self.grace_seconds)
        # Redis now holds the live snapshot and the one it replaced (expiring), nothing older.
        drop_generations(self.redis, self.keys, keep={generation, old}, states=("building", "live", "retired"))
        result = SyncResult("full", generation, version, count, len(institutions), count, watermark,
                            time.perf_counter() - started)
        log.info("full sync published %s (generation %d version %d): %d physicians in %.1fs",
                 publication, generation, version, count, result.seconds)
        return result

    def _build_buckets(self, nbuckets: int) -> tuple[PackedBuckets, Tally]:
        """Every physician's record, by bucket, ready to write, and the tally of what they hold:
        one scan of the store (``rules.store.physician_scan``) through ``cache.records``."""
        buckets, tally = PackedBuckets(nbuckets), Tally()
        records = PhysicianRecords(self.profile, self.calendar)
        with self.store.scan_physicians() as scan:
            buckets.add(records.encoded(scan), self._scanning)
        records.add_steps(tally)
        return buckets, tally

    def _scanning(self, count: int) -> None:
        """While the full sync reads the store, every few thousand physicians: still ours, how far."""
        self._keep_lock()
        if self.progress is not None:
            self.progress(count)

    def _write_generation(self, generation: int, buckets: PackedBuckets, tally: Tally,
                          institutions: dict[str, bytes], aliases: dict[str, bytes]) -> list[str]:
        """Write the generation's hashes, each with BUILD_TTL_SECONDS until the flip; the keys written."""
        written = buckets.write(self.redis, lambda b: self.keys.bucket(generation, b), ttl=BUILD_TTL_SECONDS,
                                between=self._keep_lock)
        pipe = self.redis.pipeline(transaction=False)

        def put(key: str, mapping: Mapping[str, bytes | int]) -> None:
            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
            pipe.expire(key, BUILD_TTL_SECONDS)
            written.append(key)

        if buckets.overflow:
            put(self.keys.overflow(generation), buckets.overflow)
        if institutions:
            put(self.keys.institutions(generation), institutions)
        put(self.keys.tally(generation), tally.fields())
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
        # Nothing published, or by an older drgate (no id), or for another profile: a full sync.
        if "id" not in meta or meta.get("profile", self.profile.name) != self.profile.name:
            return self._full(dry_run=dry_run, allow_shrink=allow_shrink)
        generation, nbuckets = int(meta["generation"]), int(meta["buckets"])
        change = self.store.changes_since(int(meta.get("watermark", 0)))
        version = int(meta["version"]) + (1 if change.physicians or change.institutions else 0)
        values, new_tally = records_of(self.store, self.profile, self.calendar, change.physicians)
        institutions = {i.code: i for i in self.store.institution_records(self.profile, change.institutions)}
        changed = self.store.aliases(change.institutions) if change.institutions else {}
        aliases = {code: encode_aliases(found) for code, found in changed.items()}
        count = int(meta.get("physicians", 0))
        if not (change.physicians or change.institutions):
            if not dry_run:  # the snapshot is verified current: renew its freshness, not its identity
                self._publish(self._verified, None)
            return SyncResult("incremental", generation, version, count, int(meta.get("institutions", 0)),
                              0, change.watermark, time.perf_counter() - started, dry_run)
        codes, institution_codes = sorted(change.physicians), sorted(change.institutions)
        # Under the lock nobody else writes: what is published now is what the transaction replaces.
        old, old_institutions = published_records(self.redis, self.keys, generation, nbuckets, codes,
                                                  institution_codes)
        change_tally = tally_change(new_tally, old, old_institutions, institutions)
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

        encoded = {code: encode_institution(institutions[code]) if code in institutions else None
                   for code in sorted(change.institutions)}
        publication = new_id()
        digest = incremental_digest(self.redis, self.keys, generation, nbuckets, meta["digest"], values, encoded)

        def apply(pipe: Pipeline) -> None:
            for code in codes:
                bucket = self.keys.bucket(generation, bucket_of(code, nbuckets))
                value = values[code]
                if value is None:  # gone from the store
                    pipe.hdel(bucket, code)
                    pipe.hdel(self.keys.overflow(generation), code)
                    continue
                if overflows(value):
                    pipe.hset(self.keys.overflow(generation), code, value)
                else:
                    pipe.hdel(self.keys.overflow(generation), code)
                pipe.hset(bucket, code, bucket_value(value))
            for code, raw in encoded.items():
                if raw is not None:
                    pipe.hset(self.keys.institutions(generation), code, raw)
                else:
                    pipe.hdel(self.keys.institutions(generation), code)
                pipe.hset(self.keys.aliases(generation), code, aliases.get(code, b"[]"))  # they travel with it
            fields: dict[str, str | int] = {"version": version, "watermark": change.watermark, "id": publication,
                                            "digest": digest, **stamp()}
            pipe.hset(self.keys.meta, mapping=fields)  # type: ignore[arg-type]
            self._verified(pipe)
            pipe.hincrby(self.keys.meta, "physicians", delta)
            if published is not None:  # the tally stays exact: the change's steps, added
                for field, steps in change_tally.fields().items():
                    if steps:
                        pipe.hincrby(self.keys.tally(generation), field, steps)
                pipe.hset(self.keys.meta, mapping={n: c for n, c in counts.items() if n != "physicians"})

        # prev: the publication this one patches; a reader holding another reloads everything.
        event = {"v": version, "g": generation, "id": publication, "prev": meta["id"], "p": codes,
                 "i": sorted(change.institutions)}
        self._publish(apply, orjson.dumps(event))
        result = SyncResult("incremental", generation, version, count, int(meta.get("institutions", 0)),
                            len(change.physicians) + len(change.institutions), change.watermark,
                            time.perf_counter() - started)
        log.info("incremental sync published %s (version %d): %d changed", publication, version, result.changed)
        return result

