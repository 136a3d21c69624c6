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
from gateway.decisionlog.pending import PendingEntries
from gateway.decisionlog.retention import Retention
from gateway.decisionlog.spool import Spool
from gateway.decisionlog.writer import APPEND_SCRIPT

__all__ = ["BlockingDecisionLog"]

log = logging.getLogger(__name__)


class BlockingDecisionLog(PendingEntries):
    def __init__(self, client: redis.Redis, keys: Keys, retention: Retention, *, flush_interval: float = 0.1,
                 batch: int = 500, buffer: int = 200_000, fail_open: bool = True, profile: str = "",
                 spool: Spool | None = None) -> None:
        super().__init__(keys, retention, flush_interval=flush_interval, batch=batch, buffer=buffer,
                         fail_open=fail_open, profile=profile, spool=spool)
        self.redis = client
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._append = client.register_script(APPEND_SCRIPT)

    def append(self, result: ClaimResult, front: str = "inprocess", caller: str | None = None,
               mdtrt: list[str] | None = None, sent: list[str] | None = None) -> None:
        """Keep the decision's entry for the writer; never waits on Redis, never raises."""
        entry = decision_entry(time.time(), result, front, caller, mdtrt, sent, fail_open=self.fail_open,
                               profile=self.profile)
        with self._lock:
            if len(self._pending) >= self.buffer:
                self.dropped += 1
                return
            self._pending.append(entry)
            full = len(self._pending) >= self.batch
        if full:
            self._wake.set()

    def start(self) -> None:
        with self._lock:
            self._recover()
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
            self._shut()

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
                chunk = self._chunk()
            if not chunk:
                break
            try:
                self._append(keys=self.keys, args=[*self.retention, *chunk])
            except (RedisError, OSError) as exc:
                with self._lock:
                    self._refused(exc)
                return
            with self._lock:
                self._taken(chunk)
        self._all_taken()
