"""What both decision-log writers keep: the entries waiting for Redis, bounded, batched and spooled.

``gateway.decisionlog.writer.DecisionLog`` (on an HTTP worker's event loop) and
``gateway.decisionlog.thread_writer.BlockingDecisionLog`` (on the in-process ``Checker``'s thread)
differ only in how they wait and how they call Redis.  What they hold is this: at most ``buffer``
serialised entries (past that a new one is dropped and counted, never the request), written in
batches of at most ``batch`` entries and ``BATCH_BYTES`` with the append script
(``gateway.decisionlog.retention``), and how many of them the spool (``gateway.decisionlog.spool``)
already holds, so that a kill during an outage loses nothing answered before the last attempt.
"""

from __future__ import annotations

import logging

from cache.keys import Keys
from gateway.decisionlog.retention import Retention
from gateway.decisionlog.spool import Spool

__all__ = ["BATCH_BYTES", "PendingEntries"]

#: Payload bytes a script call writes at most (one entry more if that one alone is larger): a
#: batch of 500 1,000-line claims would be ~49 MB, holding a shared Redis for tens of ms.
BATCH_BYTES = 1 << 20


class PendingEntries:
    """The entries a writer has not had Redis take yet; ``written`` and ``dropped`` count the others."""

    def __init__(self, keys: Keys, retention: Retention, *, flush_interval: float, batch: int, buffer: int,
                 fail_open: bool, profile: str, spool: Spool | None) -> None:
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
        self._failing = False
        self._stopping = False
        self._log = logging.getLogger(type(self).__module__)  # the writer's own logger

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _recover(self) -> None:
        """A stopped worker's unwritten entries (the spool's) go first."""
        if self.spool is not None:
            recovered = self.spool.recover()
            self._pending[:0] = recovered
            self._spooled = len(recovered)

    def _chunk(self) -> list[bytes]:
        """The oldest waiting entries, at most ``batch`` of them and BATCH_BYTES (at least one)."""
        size = 0
        for n, entry in enumerate(self._pending[: self.batch]):
            size += len(entry)
            if size > BATCH_BYTES and n:
                return self._pending[:n]
        return self._pending[: self.batch]

    def _taken(self, chunk: list[bytes]) -> None:
        """Redis took ``chunk``, the oldest waiting entries."""
        del self._pending[: len(chunk)]
        self._spooled = max(0, self._spooled - len(chunk))
        self.written += len(chunk)
        if self._failing:
            self._log.info("decision log: writing again")
            self._failing = False

    def _refused(self, exc: BaseException) -> None:
        """Redis did not take a batch: every entry stays, and the spool gets those it lacks."""
        if not self._failing:
            self._log.warning("decision log: redis unavailable (%s); %d entries wait in memory",
                              type(exc).__name__, len(self._pending))
        self._failing = True
        self._spool_rest()  # a kill from now on loses nothing answered before this attempt

    def _all_taken(self) -> None:
        """Nothing waits: the spool's copies are no longer needed."""
        if self.spool is not None:
            self.spool.clear()

    def _spool_rest(self) -> None:
        """Spool the waiting entries the spool does not hold yet (a small write, during outages only)."""
        if self.spool is not None:
            self.spool.write(self._pending[self._spooled:])
            self._spooled = len(self._pending)

    def _shut(self) -> None:
        """At shutdown, after the last write: spool what is left, say so, close the spool."""
        self._spool_rest()
        if self._pending:
            self._log.error("decision log: %d entries not written at shutdown%s", len(self._pending),
                            f"; spooled to {self.spool.path} for the next start" if self.spool is not None else "")
        if self.spool is not None:
            self.spool.close()
