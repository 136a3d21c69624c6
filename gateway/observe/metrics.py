"""Prometheus metrics: the gateway's (``GET /metrics``) and the sync job's (a textfile-collector file).

Gateway, per worker (names as scraped):

    drgate_lines_total{decision,reason}       lines decided
    drgate_claims_total{decision}             claims decided (pass, reject, partial)
    drgate_check_seconds                      histogram: body read → answer built
    drgate_cache_hits_total / _misses_total   near-cache lookups
    drgate_redis_errors_total                 failed Redis exchanges (the lines got `unverified`)
    drgate_redis_up                           1 when the last Redis exchange succeeded
    drgate_snapshot_version                   version of the snapshot held
    drgate_snapshot_published_timestamp_seconds   its publication time; age = time() - this
    drgate_snapshot_verified_timestamp_seconds    the last successful sync (changes or not)
    drgate_snapshot_age_seconds               time since then, at scrape time (the alert's measure)
    drgate_last_sync_timestamp_seconds        the last sync, successful or not, as meta tells it
    drgate_last_sync_success                  1 when that sync succeeded
    drgate_snapshot_profile_mismatch          1 while the snapshot held is of another profile
    drgate_decision_log_written_total / _dropped_total   decision-log entries written, dropped
    drgate_decision_log_pending               decision-log entries waiting in memory
    drgate_decision_archive_lag               decision-log entries the archiver has not archived yet
    drgate_decision_archive_behind            1 while the log keeps entries past its entry or age bound for it
    drgate_decision_log_unarchived_trimmed    entries the byte bound trimmed before the archiver read them
                                              (until an archiver takes the count; alert on any)
    drgate_refused_total{front,cause}         requests and envelopes refused: front v1 | nhsa,
                                              cause unauthorized | too_large | invalid |
                                              unreadable_line (an envelope answered, a line refused)
    drgate_auth_refused_total                 requests refused for a missing or unknown API key
    drgate_build_info{version,profile,enforce,fail_mode}   1, for joins and a shadow-mode alert

Running totals are counters: in multiprocess mode a counter's file outlives its worker, so a
worker's restart does not make a total fall (a gauge set from the worker's own count did).

The hot path only adds to plain ints (the latency histogram's too, by bucket); they reach the
Prometheus objects at most once a second and at every scrape.  With ``serve --workers N`` every
worker is its own process: when ``PROMETHEUS_MULTIPROC_DIR`` is set (``drgate serve`` sets it for
N > 1) the values go through prometheus_client's multiprocess files and ``/metrics`` on any worker
answers for all of them.
"""

from __future__ import annotations

import asyncio
import os
import time
from bisect import bisect_left
from collections import Counter as Tally
from importlib.metadata import PackageNotFoundError, version
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, write_to_textfile

if TYPE_CHECKING:
    from cache.snapshot_cache import SnapshotCache
    from gateway.check.core import ClaimResult
    from gateway.decisionlog.backlog import ArchiveBacklog
    from gateway.decisionlog.writer import DecisionLog

__all__ = ["Metrics", "front_of", "write_sync_metrics"]

_FLUSH_EVERY = 1.0  # s: how stale an unscraped worker's counters may be in multiprocess files

_LATENCY_BOUNDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)  # s
_DECISION_REASON = attrgetter("decision", "reason")
_VERDICT_OUTCOME = itemgetter(14)  # a verdict's (decision, reason), one tuple an outcome (gateway.check.verdicts)


def front_of(path: str) -> str:
    """The caller-facing front a path belongs to, as the ``front`` label: ``v1``, ``nhsa`` or ``other``."""
    if path.startswith("/v1/"):
        return "v1"
    if path.startswith("/nhsa/"):
        return "nhsa"
    return "other"


def drgate_version() -> str:
    try:
        return version("drgate")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class Metrics:
    """One registry per app (tests build many apps in one process)."""

    def __init__(self, *, profile: str = "", enforce: bool = True, fail_mode: str = "") -> None:
        # prometheus_client reads the same variable itself when it is imported.
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        if self.multiprocess:
            forget_dead_workers(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
        r = self.registry = CollectorRegistry()
        self.lines = Counter("drgate_lines", "Lines decided, by decision and reason", ["decision", "reason"],
                             registry=r)
        self.claims = Counter("drgate_claims", "Claims decided, by decision", ["decision"], registry=r)
        self.latency = Histogram(
            "drgate_check_seconds", "Time to decide a claim, body read to answer built", buckets=_LATENCY_BOUNDS,
            registry=r)
        self.cache_hits = Counter("drgate_cache_hits", "Near-cache hits", registry=r)
        self.cache_misses = Counter("drgate_cache_misses", "Near-cache misses (fetched from Redis)", registry=r)
        self.redis_errors = Counter("drgate_redis_errors", "Failed Redis exchanges", registry=r)
        self.redis_up = Gauge("drgate_redis_up", "1 when the last Redis exchange succeeded", registry=r,
                              multiprocess_mode="livemin")
        self.snapshot_version = Gauge("drgate_snapshot_version", "Version of the snapshot held", registry=r,
                                      multiprocess_mode="livemin")
        self.snapshot_published = Gauge("drgate_snapshot_published_timestamp_seconds",
                                        "Publication time of the snapshot held (Unix time)", registry=r,
                                        multiprocess_mode="livemin")
        self.snapshot_verified = Gauge("drgate_snapshot_verified_timestamp_seconds",
                                       "Last successful sync of the snapshot held, changes or not (Unix time)",
                                       registry=r, multiprocess_mode="livemin")
        self.snapshot_age = Gauge("drgate_snapshot_age_seconds",
                                  "Seconds since the last successful sync of the snapshot held", registry=r,
                                  multiprocess_mode="livemax")
        self.last_sync = Gauge("drgate_last_sync_timestamp_seconds", "The last sync, successful or not (Unix time)",
                               registry=r, multiprocess_mode="livemin")
        self.last_sync_success = Gauge("drgate_last_sync_success", "1 when the last sync succeeded", registry=r,
                                       multiprocess_mode="livemin")
        self.profile_mismatch = Gauge("drgate_snapshot_profile_mismatch",
                                      "1 while the snapshot held was computed for another profile (lines unverified)",
                                      registry=r, multiprocess_mode="livemax")
        self.log_written = Counter("drgate_decision_log_written", "Decision-log entries written to Redis",
                                   registry=r)
        self.log_pending = Gauge("drgate_decision_log_pending", "Decision-log entries waiting in memory",
                                 registry=r, multiprocess_mode="livesum")
        self.log_dropped = Counter("drgate_decision_log_dropped",
                                   "Decision-log entries dropped (buffer full while Redis was down)", registry=r)
        self.archive_lag = Gauge("drgate_decision_archive_lag", "Decision-log entries the archiver has not archived",
                                 registry=r, multiprocess_mode="livemax")
        self.archive_behind = Gauge("drgate_decision_archive_behind",
                                    "1 while the decision log keeps entries past its bounds for the archiver",
                                    registry=r, multiprocess_mode="livemax")
        self.log_trimmed_unarchived = Gauge("drgate_decision_log_unarchived_trimmed",
                                            "Decision-log entries trimmed (byte bound) before the archiver read them",
                                            registry=r, multiprocess_mode="livemax")
        self.auth_refused = Counter("drgate_auth_refused", "Requests refused for a missing or unknown API key",
                                    registry=r)
        self.refused = Counter("drgate_refused", "Requests and envelopes refused, by front and cause",
                               ["front", "cause"], registry=r)
        Gauge("drgate_build_info", "1: this gateway's version, profile, enforce and fail mode",
              ["version", "profile", "enforce", "fail_mode"], registry=r, multiprocess_mode="max").labels(
            drgate_version(), profile, str(enforce).lower(), fail_mode).set(1)
        self.decisions: DecisionLog | None = None  # set by the app when the decision log runs
        self.backlog: ArchiveBacklog | None = None  # likewise: the archiver's progress through it
        self._pending: Tally[tuple[str, str]] = Tally()
        self._claims: dict[str, int] = {}
        self._latencies = [0] * (len(_LATENCY_BOUNDS) + 1)  # per bucket, the last one +Inf, not yet in latency
        self._latency_sum = 0.0
        self._seen = (0, 0, 0)  # cache hits, misses, redis errors already counted
        self._log_seen = (0, 0)  # decision-log entries written, dropped already counted
        self._next_flush = 0.0

    def observe(self, result: ClaimResult, seconds: float, cache: SnapshotCache | None = None) -> None:
        # Lines are counted by a collections.Counter fed in C (attrgetter, Counter.update): a labelled
        # Counter.inc per line costs ~1 µs, a Python loop ~0.4 µs a line.  A verdict's (decision, reason)
        # is one tuple per outcome, found by identity: a tuple built a line cost 2.8 µs a 20-line claim, 1.3.
        # One line (most claims): counted without Counter.update's iterator and its Mapping check (~0.3 µs).
        audit = result.audit
        if audit is None:
            self._pending.update(map(_DECISION_REASON, result.lines))
        elif len(verdicts := audit[3]) == 1:
            self._pending[verdicts[0][14]] += 1
        else:
            self._pending.update(map(_VERDICT_OUTCOME, verdicts))
        self._claims[result.decision] = self._claims.get(result.decision, 0) + 1
        # The bucket as Histogram.observe finds it (the first bound >= seconds), without its locks
        # and its loop over the bounds: ~0.1 µs against ~0.8 (measured in BENCHMARKS.md).
        self._latencies[bisect_left(_LATENCY_BOUNDS, seconds)] += 1
        self._latency_sum += seconds
        if cache is not None and self.multiprocess and time.monotonic() >= self._next_flush:
            self.flush(cache)

    def refuse(self, front: str, cause: str) -> None:
        """A request or envelope refused before any decision (never on the path of a decided claim)."""
        self.refused.labels(front, cause).inc()

    def flush(self, cache: SnapshotCache) -> None:
        """Move what the hot path counted into the Prometheus objects."""
        pending, self._pending = self._pending, Tally()
        for (decision, reason), n in pending.items():
            self.lines.labels(decision, reason).inc(n)
        claims, self._claims = self._claims, {}
        for decision, n in claims.items():
            self.claims.labels(decision).inc(n)
        latencies, self._latencies = self._latencies, [0] * len(self._latencies)
        total, self._latency_sum = self._latency_sum, 0.0
        for bucket, n in zip(self.latency._buckets, latencies, strict=True):  # what observe() adds to, n at once
            if n:
                bucket.inc(n)
        self.latency._sum.inc(total)
        hits, misses, errors = cache.hits, cache.misses, getattr(cache, "redis_errors", 0)
        seen_hits, seen_misses, seen_errors = self._seen
        self.cache_hits.inc(max(0, hits - seen_hits))
        self.cache_misses.inc(max(0, misses - seen_misses))
        self.redis_errors.inc(max(0, errors - seen_errors))
        self._seen = (hits, misses, errors)
        self.redis_up.set(1 if cache.redis_ok else 0)
        decisions = self.decisions
        if decisions is not None:
            written, dropped = decisions.written, decisions.dropped
            self.log_written.inc(max(0, written - self._log_seen[0]))
            self.log_dropped.inc(max(0, dropped - self._log_seen[1]))
            self._log_seen = (written, dropped)
            self.log_pending.set(decisions.pending)
        backlog = self.backlog
        if backlog is not None:
            self.archive_lag.set(backlog.lag)
            self.archive_behind.set(1 if backlog.behind else 0)
            self.log_trimmed_unarchived.set(backlog.trimmed)
        if cache.snapshot is not None:
            self.snapshot_version.set(cache.snapshot.version)
            self.snapshot_published.set(cache.snapshot.published_ts)
            self.snapshot_verified.set(cache.snapshot.verified_ts)
            self.snapshot_age.set(cache.age_seconds())
        self.profile_mismatch.set(0 if cache.profile_mismatch is None else 1)
        if cache.last_sync is not None:
            self.last_sync.set(cache.last_sync[0])
            self.last_sync_success.set(1 if cache.last_sync[1] == "ok" else 0)
        self._next_flush = time.monotonic() + _FLUSH_EVERY

    async def flush_periodically(self, cache: SnapshotCache) -> None:
        """Multiprocess mode: an idle worker's last counts must reach the files without a scrape of it."""
        while True:
            await asyncio.sleep(_FLUSH_EVERY)
            self.flush(cache)

    def render(self, cache: SnapshotCache) -> bytes:
        self.flush(cache)
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return generate_latest(merged)


def forget_dead_workers(path: Path) -> None:
    """Drop the live gauges of workers that died (uvicorn restarts a killed worker under a new pid).

    A dead worker's ``drgate_redis_up 0`` would otherwise stay in every merge; its counters stay,
    which is what keeps the totals from falling."""
    from prometheus_client import multiprocess

    for file in path.glob("gauge_live*_*.db"):
        pid = int(file.stem.rpartition("_")[2])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
        except PermissionError:  # alive, another user's
            continue


def write_sync_metrics(path: Path, outcome: str, exit_code: int, seconds: float, result: Any | None) -> None:
    """The sync's last run, for node_exporter's textfile collector (written atomically).

    ``drgate_sync_last_success_timestamp_seconds`` survives failed runs (read back from the file),
    so "no successful sync for 30 minutes" is one alert.
    """
    registry = CollectorRegistry()
    now = time.time()
    mode = result.mode if result is not None else "unknown"

    def gauge(name: str, doc: str, value: float, **labels: str) -> None:
        g = Gauge(name, doc, list(labels), registry=registry)
        (g.labels(**labels) if labels else g).set(value)

    gauge("drgate_sync_last_run_timestamp_seconds", "When the last sync ended (Unix time)", now)
    gauge("drgate_sync_duration_seconds", "Duration of the last sync", seconds)
    gauge("drgate_sync_success", "1 when the last sync published (or was a clean dry run)",
          1.0 if outcome == "ok" else 0.0)
    gauge("drgate_sync_exit_code", "Exit code of the last sync (see drgate --help)", exit_code)
    gauge("drgate_sync_outcome", "Outcome of the last sync (1 on the one that happened)", 1.0,
          outcome=outcome, mode=mode)
    last_ok = now if outcome == "ok" else _previous(path, "drgate_sync_last_success_timestamp_seconds")
    if last_ok is not None:
        gauge("drgate_sync_last_success_timestamp_seconds", "When the last successful sync ended", last_ok)
    if result is not None:
        gauge("drgate_sync_physicians", "Physicians in the published snapshot", result.physicians)
        gauge("drgate_sync_institutions", "Institutions in the published snapshot", result.institutions)
        gauge("drgate_sync_changed_rows", "Physicians and institutions written by the last sync", result.changed)
        gauge("drgate_snapshot_published_version", "Version the last sync published", result.version)
        if result.calendar_known_through:
            gauge("drgate_calendar_known_through_year", "Last year whose adjusted working days (调休) the "
                  "calendar knows (holidays package or DRGATE_CALENDAR_FILE)", result.calendar_known_through)
        unknown = Gauge("drgate_sync_deadlines_in_unknown_calendar_year", "1 for each year a deadline of the "
                        "last sync fell in whose 调休 the calendar does not know (counted over plain weekends)",
                        ["year"], registry=registry)
        for year in result.calendar_unknown_years:
            unknown.labels(year=str(year)).set(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def _previous(path: Path, name: str) -> float | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
