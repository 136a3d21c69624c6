"""The gateway's view of the published snapshot: a process-local cache kept coherent with Redis.

``SnapshotCache`` holds no connection: the snapshot's meta, every institution, and a bounded
near-cache of physician records (``None`` for a code Redis does not know).  It is fed by
``AsyncSnapshotReader`` (the HTTP app) or ``SnapshotReader`` (threads, the in-process checker),
which fetch misses in one pipelined round trip and follow the sync's invalidation messages, with
a poll of ``meta`` as a backstop for a lost message.

When the snapshot fits in ``capacity`` the async reader preloads all of it; once loaded the cache
is ``complete``: a code it does not hold is unknown, and no lookup goes to Redis any more.  An
incremental sync's message names the physicians it changed; the reader fetches their new records
and swaps them in at once, so the cache stays complete.  Identical records (most physicians: one
agreement at an institution since a common date) share one decoded value: ~180 bytes a physician.

Coherence: an invalidation bumps ``epoch``; a fetch that started before it does not store what it
read, so an old record never outlives the message that replaced it.

Identity: a snapshot is its publication's ``id``, and its keys are those of ``generation_id``
(the full sync that wrote them); both are random (``cache.identity``).  The generation and
version counters are only shown: a Redis restarted empty starts them again from 1.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from cache.codec import decode_aliases, decode_institution, decode_physician
from cache.errors import CorruptRecord, NoSnapshot
from cache.keys import OVERFLOW, Keys, bucket_of
from rules.model import Agreement, Credit, InstitutionRecord, PhysicianRecord, Sanction

__all__ = ["UNREAD", "Snapshot", "SnapshotCache"]

log = logging.getLogger(__name__)


class _Unread:
    """A record that could not be read (Redis down, corrupt record): the line is `unverified`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNREAD"


UNREAD: Any = _Unread()


@dataclass(frozen=True, slots=True)
class Snapshot:
    generation: int
    version: int
    published_at: str
    published_ts: float
    physicians: int
    bucket_keys: tuple[str, ...]
    overflow_key: str
    institutions: dict[str, InstitutionRecord] = field(hash=False)
    #: ``generation_id`` as ``meta`` holds it: compared with each fetch's reply (the keys read are live).
    generation_tag: bytes = b""
    id: str = ""  # the publication's random id
    digest: str = ""  # its content digest (cache.digest)
    profile: str = ""  # the city profile it was computed for
    #: Unix time of the last successful sync that found it current (a quiet store's syncs renew
    #: it without a new publication): `stale` and the snapshot's age count from here.
    verified_ts: float = 0.0
    #: An institution's local doctor codes → 医保医师代码 (gateway.formats.nhsa.aliases): institution →
    #: LOCAL CODE → ((physician_code, start, end), ...), days as ordinals, end exclusive.
    aliases: dict[str, dict[str, tuple[tuple[str, int, int], ...]]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.verified_ts:  # built without it (an older meta, a test): verified when published
            object.__setattr__(self, "verified_ts", self.published_ts)

    @property
    def generation_id(self) -> str:
        return self.generation_tag.decode()

    def bucket_key(self, code: str) -> str:
        return self.bucket_keys[bucket_of(code, len(self.bucket_keys))]


#: Distinct record values whose decoding is shared (raw bytes -> parts); bounds that table's memory.
INTERN_MAX = 200_000

_Parts = tuple[tuple[Agreement, ...], tuple[Sanction, ...], tuple[Credit, ...], tuple[tuple[int, int], ...]]


class SnapshotCache:
    def __init__(self, keys: Keys, capacity: int = 2_000_000, profile: str = "") -> None:
        self.keys = keys
        self.capacity = capacity
        self.profile = profile  # the configured city profile: a snapshot of another is refused
        self.snapshot: Snapshot | None = None
        #: (Unix time, outcome) of the last sync as ``meta`` tells it: "ok", "shrink_refused", …
        self.last_sync: tuple[float, str] | None = None
        self.records: dict[str, PhysicianRecord | None] = {}
        #: Every physician of the snapshot is in ``records``: a code absent is unknown (None).
        self.complete = False
        self.evictions = 0
        self.unreadable = 0  # records a preload could not decode: the cache cannot be complete
        self._parts: dict[bytes, _Parts] = {}
        self.epoch = 0
        self.hits = 0
        self.misses = 0
        self.redis_errors = 0  # failed exchanges, for drgate_redis_errors_total
        self.redis_ok = False
        self.last_ok = 0.0  # monotonic time of the last successful Redis exchange

    # -- Redis's health, as the readers see it ------------------------------------------------

    def mark_ok(self) -> None:
        """A Redis exchange succeeded: reads may go to Redis again."""
        if not self.redis_ok:
            log.info("redis reachable")
        self.redis_ok = True
        self.last_ok = time.monotonic()

    def mark_failed(self, exc: BaseException) -> None:
        """A Redis exchange failed (or found no snapshot): answer from what is held, probe in the follower."""
        self.redis_errors += 1
        if self.redis_ok:
            log.warning("redis unreachable or without a snapshot (%s); answering from the snapshot held",
                        type(exc).__name__)
        self.redis_ok = False

    # -- building a snapshot from what Redis returned -----------------------------------------

    def build(self, meta: dict[bytes, bytes], institutions: dict[bytes, bytes],
              aliases: dict[bytes, bytes] | None = None) -> Snapshot:
        generation = int(meta[b"generation"])
        publication, generation_id = _identity(meta)
        insts: dict[str, InstitutionRecord] = {}
        for raw_code, raw in institutions.items():
            code = raw_code.decode()
            try:
                insts[code] = decode_institution(code, raw)
            except CorruptRecord:
                log.error("institution record %s does not decode; treated as without sanctions", code)
        local: dict[str, dict[str, tuple[tuple[str, int, int], ...]]] = {}
        for raw_code, raw in (aliases or {}).items():
            code = raw_code.decode()
            try:
                local[code] = decode_aliases(code, raw)
            except CorruptRecord:
                log.error("physician aliases of %s do not decode; its local codes are not mapped", code)
        return Snapshot(
            generation=generation,
            version=int(meta[b"version"]),
            published_at=meta[b"published_at"].decode(),
            published_ts=float(meta[b"published_ts"]),
            physicians=int(meta.get(b"physicians", b"0")),
            bucket_keys=tuple(self.keys.buckets(generation, int(meta[b"buckets"]))),
            overflow_key=self.keys.overflow(generation),
            institutions=insts,
            generation_tag=generation_id,
            id=publication,
            digest=meta.get(b"digest", b"").decode(),
            profile=meta.get(b"profile", b"").decode(),
            verified_ts=float(meta.get(b"verified_ts", meta[b"published_ts"])),
            aliases=local,
        )

    def install(self, snapshot: Snapshot, physicians: list[str] | None,
                fetched: dict[str, bytes | None] | None = None) -> None:
        """Make ``snapshot`` current; drop the named physicians, or every one when ``None``.

        ``fetched``: the new raw records of the named physicians (None: gone), read after the
        message that named them; they replace the old ones at once and the cache stays complete.
        """
        self.epoch += 1
        if physicians is None or self.snapshot is None or snapshot.generation_tag != self.snapshot.generation_tag:
            self.records = {}
            self.complete = False
        else:
            records = self.records
            for code in physicians:
                records.pop(code, None)
            if fetched is None:
                self.complete = False
            else:
                for code, raw in fetched.items():
                    if raw is None:
                        if not self.complete:
                            records[code] = None
                        continue
                    try:
                        records[code] = self.decode(code, raw)
                    except CorruptRecord:
                        log.error("record of physician %s does not decode; its lines are unverified", code)
                        self.complete = False
        self.snapshot = snapshot
        if self.profile and snapshot.profile != self.profile:
            log.error("snapshot %s was computed for profile %s, this gateway is configured for %s: "
                      "lines are unverified until a snapshot of %s is published", snapshot.id, snapshot.profile,
                      self.profile, self.profile)

    def note_sync(self, last: dict[bytes, bytes]) -> None:
        """The last sync's time and outcome (``{prefix}:sync``), whatever it was."""
        if b"ts" in last:
            self.last_sync = (float(last[b"ts"]), last.get(b"outcome", b"").decode())

    def renew(self, meta: dict[bytes, bytes]) -> None:
        """Take the freshness of a ``meta`` whose publication is the one held."""
        snap = self.snapshot
        verified = meta.get(b"verified_ts")
        if snap is None or verified is None or meta.get(b"id", b"").decode() != snap.id:
            return
        if float(verified) != snap.verified_ts:  # a new object: memoised verdicts (stale or not) start anew
            self.snapshot = replace(snap, verified_ts=float(verified))

    @property
    def profile_mismatch(self) -> tuple[str, str] | None:
        """(the snapshot's profile, the configured one) when they differ."""
        snap = self.snapshot
        if snap is None or not self.profile or snap.profile == self.profile:
            return None
        return snap.profile, self.profile

    @staticmethod
    def parse_event(message: bytes) -> tuple[str | None, str | None, list[str] | None, list[str] | None]:
        """(publication id, id of the one it patches, physicians, institutions) of a sync's message."""
        event = orjson.loads(message)
        return event.get("id"), event.get("prev"), event.get("p"), event.get("i")

    # -- lookups ---------------------------------------------------------------------------------

    def decode(self, code: str, raw: bytes) -> PhysicianRecord:
        """The record of ``code``; identical raw records share their decoded parts."""
        parts = self._parts.get(raw)
        if parts is None:
            record = decode_physician(code, raw)
            if len(self._parts) < INTERN_MAX:
                self._parts[raw] = (record.agreements, record.sanctions, record.credits, record.points)
            return record
        return PhysicianRecord(code, *parts)

    def cached(self, codes: list[str]) -> tuple[dict[str, PhysicianRecord | None], list[str]]:
        """Records held here, and the codes to fetch."""
        if self.complete:  # the whole snapshot is here: absent means unknown
            get = self.records.get
            self.hits += len(codes)
            return {code: get(code) for code in codes}, []
        found: dict[str, PhysicianRecord | None] = {}
        missing: list[str] = []
        records = self.records
        for code in codes:
            if code in records:
                found[code] = records[code]
            elif code not in found:
                missing.append(code)
        self.hits += len(codes) - len(missing)
        self.misses += len(missing)
        return found, list(dict.fromkeys(missing))

    def store(self, epoch: int, code: str, raw: bytes | None) -> PhysicianRecord | None:
        """Decode what Redis returned and keep it, unless an invalidation came in between."""
        record = None if raw is None else self.decode(code, raw)
        if epoch == self.epoch and not (record is None and self.complete):
            if len(self.records) >= self.capacity:
                # Evict the oldest tenth (dicts keep insertion order): cheap and good enough.
                for old in list(self.records)[: max(1, self.capacity // 10)]:
                    del self.records[old]
                self.evictions += 1
                self.complete = False
            self.records[code] = record
        return record

    def preloadable(self) -> bool:
        return self.snapshot is not None and not self.complete and self.snapshot.physicians <= self.capacity

    def absorb_buckets(self, replies: list[dict[bytes, bytes]]) -> list[str]:
        """Keep every record of whole buckets (a preload); return the codes whose record is in overflow."""
        overflow: list[str] = []
        records = self.records
        for bucket in replies:
            for raw_code, raw in bucket.items():
                code = raw_code.decode()
                if raw == OVERFLOW:
                    overflow.append(code)
                    continue
                try:
                    records[code] = self.decode(code, raw)
                except CorruptRecord:
                    log.error("record of physician %s does not decode; its lines are unverified", code)
                    self.unreadable += 1
        return overflow

    def absorb(self, snapshot: Snapshot, epoch: int, codes: list[str], raws: list[Any],
               found: dict[str, Any]) -> list[str]:
        """Store the replies to one HGET per code; return the codes whose record is in overflow."""
        overflow: list[str] = []
        for code, raw in zip(codes, raws, strict=True):
            if raw == OVERFLOW:
                overflow.append(code)
                continue
            try:
                found[code] = self.store(epoch, code, raw)
            except CorruptRecord:
                log.error("record of physician %s does not decode; its lines are unverified", code)
                found[code] = UNREAD
        return overflow

    def absorb_stale(self, snapshot: Snapshot, codes: list[str], raws: list[Any], found: dict[str, Any],
                     live: Any) -> dict[str, Any]:
        """Replies read while ``meta`` named another generation (``live``), or none: keep what they
        hold, but their nils say nothing about the registry, so those lines are UNREAD."""
        self.absorb(snapshot, -1, codes, raws, found)
        for code in codes:
            if found.get(code) is None:
                found[code] = UNREAD
        if live is None:
            self.mark_failed(NoSnapshot())
        return found

    def unread(self, codes: list[str], found: dict[str, Any], exc: BaseException, *, refused: bool) -> dict[str, Any]:
        """A claim's fetch failed: its missing lines are UNREAD.  ``refused``: Redis answered with an
        error (a key of the wrong type) and is fine; else it is unreachable."""
        if refused:
            log.error("snapshot read refused by redis (%s); lines unverified", exc)
        else:
            self.mark_failed(exc)
        for code in codes:
            found.setdefault(code, UNREAD)
        return found

    def plan_refresh(self, meta: dict[bytes, bytes], event: bytes | None) -> tuple[bool, list[str] | None]:
        """What a new ``meta`` calls for: (reload institutions?, physicians to drop, None = all).

        Only the message of the publication ``meta`` names, patching the very one held, is applied
        precisely; anything else (a full sync, a missed message, a Redis restarted empty whose
        counters start again) drops every record.  Ids decide, never the counters.
        """
        snap = self.snapshot
        publication, generation_id = _identity(meta)
        if snap is None or generation_id != snap.generation_tag:
            return True, None
        if publication == snap.id:
            return False, []
        if event is not None:
            ev_id, ev_prev, physicians, institutions = self.parse_event(event)
            if ev_id == publication and ev_prev == snap.id and physicians is not None:
                return bool(institutions), physicians
        return True, None

    def age_seconds(self, now: float | None = None) -> float:
        if self.snapshot is None:
            return float("inf")
        return (time.time() if now is None else now) - self.snapshot.verified_ts


def _identity(meta: dict[bytes, bytes]) -> tuple[str, bytes]:
    """(publication id, generation id) of ``meta``.  A publication by a drgate older than ids is
    known by its counters and time, as well as can be, until the next full sync gives it an id."""
    generation = meta[b"generation"]
    generation_id = meta.get(b"generation_id", b"legacy-" + generation)
    publication = meta.get(b"id")
    if publication is None:
        return "legacy-" + b"-".join((generation, meta[b"version"], meta[b"published_ts"])).decode(), generation_id
    return publication.decode(), generation_id
