"""The in-process ``Checker``'s decision log: the HTTP fronts' log, written by a thread.

``append`` serialises the entry (``gateway.decisionlog.entries``, front ``inprocess``) and keeps it; a daemon
thread writes the kept entries every ``flush_interval`` seconds, or sooner when ``batch`` wait,
with the same script as ``gateway.decisionlog.writer`` (``XADD`` each, then trim to the retention).  While Redis
is down the entries wait in memory (at most ``buffer``, then new ones are dropped and counted)
and in the spool (``gateway.decisionlog.spool``), which the next start replays.  ``stop`` writes what waits.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from redis.exceptions import RedisError

from cache.keys import Keys
from gateway.check.core import ClaimResult
from gateway.decisionlog.entries import decision_entry
from gateway.decisionlog.retention import Retention
from gateway.decisionlog.spool import Spool
from gateway.decisionlog.writer import APPEND_SCRIPT

__all__ = ["BlockingDecisionLog"]

log = logging.getLogger(__name__)


class BlockingDecisionLog:
    def __init__(self, client: redis.Redis, keys: Keys, retention: Retention, *, flush_interval: float = 0.1,
                 batch: int = 500, buffer: int = 200_000, fail_open: bool = True, profile: str = "",
                 spool: Spool | None = None) -> None:
        self.redis = client
        self.keys = [keys.decisions, keys.decision_slices, keys.decision_size]
        self.retention = retention.args()
        self.flush_interval = flush_interval
        self.batch = batch
        self.buffer = buffer
        self.fail_open = fail_open
        self.profile = profile
        self.spool = spool
        self.written = 0
        self.dropped = 0
        self._pending: list[bytes] = []
        self._spooled = 0  # entries at the head of _pending that the spool holds
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._failing = False
        self._thread: threading.Thread | None = None
        self._append = client.register_script(APPEND_SCRIPT)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def append(self, result: ClaimResult) -> None:
        """Keep the decision's entry for the writer; never waits on Redis, never raises."""
        entry = decision_entry(time.time(), result, "inprocess", None, fail_open=self.fail_open, profile=self.profile)
        with self._lock:
            if len(self._pending) >= self.buffer:
                self.dropped += 1
                return
            self._pending.append(entry)
            full = len(self._pending) >= self.batch
        if full:
            self._wake.set()

    def start(self) -> None:
        if self.spool is not None:
            recovered = self.spool.recover()
            with self._lock:
                self._pending[:0] = recovered
                self._spooled = len(recovered)
        self._thread = threading.Thread(target=self._run, name="drgate-decision-log", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what waits (for at most ``timeout`` seconds); spool what could not be written."""
        if self._thread is None:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None
        with self._lock:
            self._spool_rest()
            left = len(self._pending)
        if left:
            log.error("decision log: %d entries not written at shutdown%s", left,
                      f"; spooled to {self.spool.path} for the next start" if self.spool is not None else "")
        if self.spool is not None:
            self.spool.close()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the writer must outlive any one bad batch; the entries stay queued
                log.exception("decision log writer failed; retrying")
            if self._stopping and (not self._pending or self._failing):
                return

    def flush(self) -> None:
        """Write every waiting entry, a batch per call; on a Redis error keep (and spool) them."""
        while True:
            with self._lock:
                chunk = self._pending[: self.batch]
            if not chunk:
                break
            try:
                self._append(keys=self.keys, args=[*self.retention, *chunk])
            except (RedisError, OSError) as exc:
                with self._lock:
                    if not self._failing:
                        log.warning("decision log: redis unavailable (%s); %d entries wait in memory",
                                    type(exc).__name__, len(self._pending))
                    self._failing = True
                    self._spool_rest()
                return
            with self._lock:
                del self._pending[: len(chunk)]
                self._spooled = max(0, self._spooled - len(chunk))
                self.written += len(chunk)
                if self._failing:
                    log.info("decision log: writing again")
                    self._failing = False
        if self.spool is not None:
            self.spool.clear()

    def _spool_rest(self) -> None:
        """Spool the entries the spool does not hold yet (call with the lock held)."""
        if self.spool is not None:
            self.spool.write(self._pending[self._spooled:])
            self._spooled = len(self._pending)
