"""Every Redis key, channel and TTL of drgate, built here and nowhere else.

All keys share one hash tag, ``{prefix}``, so they live in one slot: a full sync's flip and an
incremental publish are single MULTI/EXEC transactions, on a standalone Redis and on a cluster.

Layout (``P`` = ``{drgate}`` by default):

    P:meta            hash   the published snapshot: id, generation_id, digest (cache.identity),
                             generation, version, published_at, counts, buckets, watermark,
                             profile, verified_at/_ts (the last successful sync, changes or not).
                             Readers start here; a sync flips it.  Readers compare ids: the
                             counters restart from 1 in a Redis restarted empty.
    P:sync            hash   the last sync, whatever its outcome: at, ts, outcome (ok,
                             shrink_refused, lock_lost, failed); apart from meta, which a refused
                             sync leaves as it was.  Gateways show it on /readyz and /metrics.
    P:seq             string generation counter (INCR)
    P:gens            hash   generation -> JSON {state: building|live|retired, buckets, at}
                             A building generation's keys expire after BUILD_TTL_SECONDS unless the
                             flip PERSISTs them: a sync killed with no later sync leaks nothing.
    P:g<N>:p:<b>      hash   physician code -> record, for codes with crc32(code) % buckets == b.
                             Small hashes stay listpack-encoded: ~40 bytes a physician.
    P:g<N>:px         hash   records longer than LISTPACK_VALUE_MAX (bucket holds OVERFLOW)
    P:g<N>:i          hash   institution code -> record
    P:g<N>:t          hash   the shrink guard's counts as step functions of the day (cache/tally.py)
    P:g<N>:a          hash   institution code -> its physician aliases (local code -> 医保医师代码)
    P:lock            string sync lock: owner token, TTL LOCK_TTL_MS
    P:callers         hash   the store's live API keys: SHA-256 hex -> {"name","role"} JSON (cache.callers),
                             rewritten by every successful sync in its transaction; meta's
                             ``callers`` is the table's id, so gateways re-read it only when it changed
    P:events          pub/sub invalidations: {"v","g","id","prev","p":[codes]|null,"i":[codes]|null}
                             (prev: the publication id an incremental one patches)
    P:decisions       stream decision log (gateway/decisionlog/writer.py), in DRGATE_DECISION_LOG_URL's Redis if set
    P:decisions:slices list  its retention ledger: slices of entries with their bytes (gateway/decisionlog/retention.py)
    P:decisions:size  hash   the ledger's sums: bytes, entries
"""

from __future__ import annotations

import zlib

__all__ = [
    "BUILD_TTL_SECONDS",
    "DECISION_LOG_MAXLEN",
    "DECISION_LOG_MAX_AGE",
    "DECISION_LOG_MAX_BYTES",
    "GRACE_SECONDS",
    "LISTPACK_VALUE_MAX",
    "LOCK_TTL_MS",
    "OVERFLOW",
    "Keys",
    "bucket_count",
    "bucket_of",
    "bucket_value",
    "overflows",
]

#: Old generations stay readable this long after a flip: a reader that fetched the old meta
#: finishes its reads on the old keys.
GRACE_SECONDS = 60
#: A sync holds the lock this long unless it renews it; a crashed holder's lock expires.
LOCK_TTL_MS = 30_000
#: Keys of a generation being built live this long unless the flip makes them persistent: far
#: longer than a full sync of a province (~1 min for 1M physicians), short enough that a killed
#: sync does not hold Redis memory for long when no other sync follows.
BUILD_TTL_SECONDS = 6 * 3600
#: Redis keeps a hash listpack-encoded while every value is at most this long (the default
#: hash-max-listpack-value); longer records go to the overflow hash.
LISTPACK_VALUE_MAX = 64
#: Physicians a bucket holds on average; the default hash-max-listpack-entries is 128.
BUCKET_FILL = 48
#: Marker a bucket holds for a record kept in the overflow hash.
OVERFLOW = b"~"
#: Decision-log retention, whichever binds first: entries (one a claim: about two days of a
#: mid-size city, ~100 lines/s, ~8 lines a claim), bytes (an entry is ~150 bytes at 1 line, ~98 KB
#: at 1,000), age.  Export the stream for longer retention.
DECISION_LOG_MAXLEN = 2_000_000
DECISION_LOG_MAX_BYTES = 512 << 20
DECISION_LOG_MAX_AGE = 2 * 86400


def bucket_count(physicians: int) -> int:
    """A power of two giving about BUCKET_FILL physicians a bucket (at least 16)."""
    n = 16
    while n * BUCKET_FILL < physicians:
        n *= 2
    return n


def bucket_of(code: str, buckets: int) -> int:
    """The bucket holding physician ``code``: crc32 of its UTF-8 bytes, modulo ``buckets`` (a power of two)."""
    return zlib.crc32(code.encode()) & (buckets - 1)


def overflows(record: bytes) -> bool:
    """Whether a physician's record lives in the overflow hash: too long for a listpack-encoded bucket."""
    return len(record) > LISTPACK_VALUE_MAX


def bucket_value(record: bytes) -> bytes:
    """What a physician's bucket holds for ``record``: the record, or OVERFLOW when it ``overflows``."""
    return OVERFLOW if overflows(record) else record


class Keys:
    """Key names under one prefix (``DRGATE_REDIS_PREFIX``); tests use their own prefix."""

    __slots__ = ("tag", "meta", "sync", "seq", "gens", "lock", "events", "decisions", "decision_slices",
                 "decision_size", "callers")

    def __init__(self, prefix: str = "drgate") -> None:
        if not prefix or any(c in prefix for c in "{}: \t\r\n*"):
            raise ValueError(f"redis prefix {prefix!r} must be non-empty, without braces, colons or spaces")
        self.tag = "{" + prefix + "}"
        self.meta = f"{self.tag}:meta"
        self.sync = f"{self.tag}:sync"
        self.seq = f"{self.tag}:seq"
        self.gens = f"{self.tag}:gens"
        self.lock = f"{self.tag}:lock"
        self.events = f"{self.tag}:events"
        self.decisions = f"{self.tag}:decisions"
        self.decision_slices = f"{self.tag}:decisions:slices"
        self.decision_size = f"{self.tag}:decisions:size"
        self.callers = f"{self.tag}:callers"

    def bucket(self, generation: int, bucket: int) -> str:
        return f"{self.tag}:g{generation}:p:{bucket}"

    def buckets(self, generation: int, count: int) -> list[str]:
        return [self.bucket(generation, b) for b in range(count)]

    def overflow(self, generation: int) -> str:
        return f"{self.tag}:g{generation}:px"

    def institutions(self, generation: int) -> str:
        return f"{self.tag}:g{generation}:i"

    def tally(self, generation: int) -> str:
        return f"{self.tag}:g{generation}:t"

    def aliases(self, generation: int) -> str:
        return f"{self.tag}:g{generation}:a"

    def generation_keys(self, generation: int, buckets: int) -> list[str]:
        return [*self.buckets(generation, buckets), self.overflow(generation), self.institutions(generation),
                self.tally(generation), self.aliases(generation)]
