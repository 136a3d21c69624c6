"""``drgate decisions archive``: move the decision log (a Redis Stream) into the store's archive.

The archiver reads the stream as a member of the consumer group ``archive`` (``XREADGROUP``),
inserts a batch in one transaction (``rules.store.archive.writes.Archive.insert``: idempotent by decision id)
and acknowledges it (``XACK``) only after the commit.  An archiver killed between commit and
acknowledgement leaves its entries pending: another archiver (or itself, restarted) claims
entries idle longer than ``claim_idle`` seconds (``XAUTOCLAIM``) and archives them again, which
inserts nothing twice.  Several archivers may run at once; the group shares the entries out.

Redis failing (down, restarting, failing over) stops nothing but the reads: the archiver waits
and reconnects.  The group and its pending entries survive a Redis restart with persistence.
An entry that is not of any layout is logged by stream id and acknowledged (it would block
nothing, but would be claimed for ever).  The log's trim waits for the group
(``gateway.decisionlog.retention``) but for its byte bound, the memory's: entries trimmed before
they were archived are logged and counted as ``lost`` (pending ones the archiver finds gone, and
the count of never-read ones the trim left in the ledger), and ``--once`` exits 1 for them.
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import redis
from redis.exceptions import RedisError, ResponseError

from gateway.decisionlog.entries import parse_entry, received_day
from gateway.decisionlog.retention import ARCHIVE_GROUP, TAKE_UNARCHIVED
from gateway.errors import EntryError
from rules.store.archive.chain import ArchivedDecision, ArchivedFeedback
from rules.store.archive.writes import Archive

__all__ = ["GROUP", "Archiver", "ArchiverStats"]

log = logging.getLogger(__name__)

GROUP = ARCHIVE_GROUP
#: Days of partitions created ahead of today (PostgreSQL), so the day's first insert finds them.
DAYS_AHEAD = 3
#: Seconds between an archiver's own collections of reference cycles when it runs its process's
#: collector (``own_gc``): the automatic one is off while it runs, for a batch's tens of thousands
#: of young tuples made every generation-0 pass walk them (20-30% of its CPU at 20-line claims,
#: BENCHMARKS.md); the archiver makes few cycles, and this collects them.
COLLECT_EVERY = 60.0


@dataclass(slots=True)
class ArchiverStats:
    read: int = 0  # entries read from the stream (new or claimed)
    archived: int = 0  # decisions inserted (not archived before)
    lines: int = 0  # their lines
    feedback: int = 0
    malformed: int = 0
    lost: int = 0  # entries trimmed from the stream before they were archived
    started: float = field(default_factory=time.monotonic)


class Archiver:
    def __init__(self, client: redis.Redis, stream: str, archive: Archive, *, batch: int = 1000,
                 block_ms: int = 1000, claim_idle: float = 60.0, consumer: str | None = None,
                 keep_days: int = 1095, own_gc: bool = False) -> None:
        self.redis = client
        self.stream = stream
        self.archive = archive
        self.batch = batch
        self.block_ms = block_ms
        self.claim_idle_ms = int(claim_idle * 1000)
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.keep_days = keep_days
        self.own_gc = own_gc  # the process is the archiver's (``drgate decisions archive``): see COLLECT_EVERY
        self.stats = ArchiverStats()
        self._claim_from = "0-0"
        self._group_ready = False
        self._next_claim = 0.0  # monotonic time of the next claim of idle pending entries
        self._size = f"{stream}:size"  # the retention ledger's sums (cache.keys: decision_size)
        self._take_unarchived = client.register_script(TAKE_UNARCHIVED)

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:  # from the stream's start: entries written before the first archiver ran are archived too
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def step(self) -> int:
        """Claim idle pending entries, else read new ones; archive and acknowledge. Entries handled."""
        entries = self._claim_due(force=True) or self._read()
        if entries:
            self._store(entries, *self._parse(entries))
        return len(entries)

    def _claim_due(self, *, force: bool = False) -> list[Any]:
        """Idle pending entries (and the count of trimmed ones), at most every half ``claim_idle``."""
        now = time.monotonic()
        if not force and now < self._next_claim:
            return []
        self._ensure_group()
        self._count_trimmed()
        entries = self._claim()
        self._next_claim = now if entries else now + self.claim_idle_ms / 2000
        return entries

    def _read(self) -> list[Any]:
        self._ensure_group()
        reply: Any = self.redis.xreadgroup(GROUP, self.consumer, {self.stream: ">"}, count=self.batch,
                                           block=self.block_ms or None)
        return reply[0][1] if reply else []

    def _claim(self) -> list[Any]:
        reply: Any = self.redis.xautoclaim(self.stream, GROUP, self.consumer, self.claim_idle_ms,
                                           start_id=self._claim_from, count=self.batch)
        self._claim_from = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if len(reply) > 2 and reply[2]:  # Redis 7: ids claimed but no longer in the stream (trimmed)
            self.stats.lost += len(reply[2])
            log.error("decision archive: %d pending entries were trimmed from the stream before they were "
                      "archived (first %s); raise DRGATE_DECISION_LOG_MAX_BYTES or run more archivers",
                      len(reply[2]), reply[2][0])
        return [e for e in reply[1] if e[1]]

    def _count_trimmed(self) -> None:
        """Entries the log's byte bound trimmed before this group read them (the trim counted them)."""
        trimmed = int(self._take_unarchived(keys=[self._size]))
        if trimmed:
            self.stats.lost += trimmed
            log.error("decision archive: %d entries were trimmed from the decision log before they were read "
                      "(its byte bound, DRGATE_DECISION_LOG_MAX_BYTES, was reached while the archiver was behind); "
                      "they are not in the archive", trimmed)

    def _parse(self, entries: list[Any]) -> tuple[list[ArchivedDecision], list[ArchivedFeedback]]:
        decisions: list[ArchivedDecision] = []
        feedback: list[ArchivedFeedback] = []
        for entry_id, fields in entries:
            raw = fields.get(b"d")
            try:
                if raw is None:
                    raise EntryError("no field d")
                parsed = parse_entry(raw)
            except EntryError as exc:
                self.stats.malformed += 1
                log.error("decision archive: entry %s is not a decision log entry (%s); skipped", entry_id, exc)
                continue
            if isinstance(parsed, ArchivedDecision):
                decisions.append(parsed)
            else:
                feedback.append(parsed)
        return decisions, feedback

    def _store(self, entries: list[Any], decisions: list[ArchivedDecision], feedback: list[ArchivedFeedback]) -> None:
        """Insert the batch (one transaction), then acknowledge its entries: only after the commit."""
        added, lines = self.archive.insert(decisions, feedback)
        self.redis.xack(self.stream, GROUP, *[entry_id for entry_id, _ in entries])
        self.stats.read += len(entries)
        self.stats.archived += added
        self.stats.lines += lines
        self.stats.feedback += len(feedback)

    def prepare(self, today: date | None = None) -> None:
        """Partitions of the coming days, and retention: days past ``keep_days`` dropped."""
        today = today or received_day(int(time.time() * 1000))
        self.archive.ensure_partitions(today + timedelta(n) for n in range(-1, DAYS_AHEAD + 1))
        self.archive.drop_before(today - timedelta(self.keep_days))

    def run(self, *, once: bool = False, should_stop: Callable[[], bool] = lambda: False) -> ArchiverStats:
        """Archive until stopped (``once``: until the stream holds nothing new nor claimable).

        The next batch is read and parsed while the last one is written (a thread of its own: the
        store's driver lets the interpreter go while the database works), one batch in flight at
        most, each acknowledged after its own commit.  Claims wait for the batch in flight, so an
        archiver never claims entries it is still writing."""
        collecting = self.own_gc and gc.isenabled()
        if collecting:
            gc.disable()
        try:
            return self._run(once, should_stop, collecting)
        finally:
            if collecting:
                gc.enable()

    def _run(self, once: bool, should_stop: Callable[[], bool], collecting: bool) -> ArchiverStats:
        self.prepare()
        prepared = collected = time.monotonic()
        backoff = 0.1
        flight: Future[None] | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="drgate-archive") as writer:
            while not should_stop():
                if collecting and time.monotonic() - collected > COLLECT_EVERY:
                    gc.collect()
                    collected = time.monotonic()
                try:
                    entries = self._next(flight)
                    if not entries and flight is not None:  # nothing new: let the batch in flight land first
                        _landed(flight)
                        flight = None
                        continue
                    if not entries and once:
                        break
                    if entries:
                        parsed = self._parse(entries)
                        _landed(flight)
                        flight = writer.submit(self._store, entries, *parsed)
                except (RedisError, OSError) as exc:
                    _landed(flight, quiet=True)
                    flight = None
                    log.warning("decision archive: redis unavailable (%s); retrying in %.1fs", type(exc).__name__,
                                backoff)
                    self._group_ready = False
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.1
                if time.monotonic() - prepared > 3600:  # a long-running archiver crosses midnight
                    _landed(flight)
                    flight = None
                    self.prepare()
                    prepared = time.monotonic()
            _landed(flight, quiet=True)
        return self.stats

    def _next(self, flight: Future[None] | None) -> list[Any]:
        """Claimed entries when a claim is due (after the batch in flight landed), else new ones; with
        nothing new and nothing in flight, a claim all the same (``once`` stops only then)."""
        if time.monotonic() >= self._next_claim:
            _landed(flight)
            if entries := self._claim_due():
                return entries
        entries = self._read()
        if not entries and flight is None:
            entries = self._claim_due(force=True)
        return entries


def _landed(flight: Future[None] | None, *, quiet: bool = False) -> None:
    """Wait for the batch in flight (None: nothing then).  Its Redis failure (the acknowledgement:
    the entries stay pending, to be claimed again) is raised, or only logged when ``quiet``."""
    if flight is None:
        return
    try:
        flight.result()
    except (RedisError, OSError) as exc:
        if not quiet:
            raise
        log.warning("decision archive: a batch was stored but not acknowledged (%s); it will be claimed again",
                    type(exc).__name__)
