"""The decision log: every claim's decision, appended to a Redis Stream off the hot path.

A request only appends its serialised entry to an in-memory list (~2 µs for 1 line, ~7 for 20); a
background task writes the list every ``flush_interval`` seconds, or sooner when ``batch`` entries
wait: one script call a batch (at most ``batch`` entries and ``BATCH_BYTES``, so one call never
holds Redis long) that ``XADD``s each entry and trims the stream to its retention, bounded in
entries, bytes and age (``gateway.decisionlog.retention``).  It may live in a Redis of its own
(``DRGATE_DECISION_LOG_URL``): the log then cannot take memory from the snapshot at all.
While Redis is down the entries wait in memory, at most ``buffer`` of them; past that a new
entry is dropped and counted (``drgate_decision_log_dropped_total``), never the request.  Each failed
write also appends the entries not yet spooled to the worker's spool file (``gateway.decisionlog.spool``),
which the next worker to start replays: a worker killed during an outage loses at most what it
answered since the last attempt (``flush_interval``).  Delivery is
at least once: a batch cut off at shutdown may be written twice; ``id`` tells them apart.

An entry has one field, ``d``: a JSON object (one field, not seven: each is an argument to pack,
and the writer shares the event loop with the requests); its layout is
``gateway.decisionlog.entries``'.  The batch's call is packed here (``_write``: the entries are
bytes already, framed with one join), not by redis-py, whose packing of each argument cost 0.9 µs
an entry on the loop the requests share; a Redis that has lost the script (NOSCRIPT) gets it again
through redis-py's script object, as does a cluster client.  ``drgate decisions archive`` moves
the stream into the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import orjson
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError, ResponseError

from cache.keys import Keys
from gateway.check.core import ClaimResult
from gateway.decisionlog.entries import decision_entry
from gateway.decisionlog.pending import PendingEntries
from gateway.decisionlog.retention import APPEND, Retention
from gateway.decisionlog.spool import Spool

__all__ = ["APPEND_SCRIPT", "DecisionLog"]

log = logging.getLogger(__name__)

#: The append script (``gateway.decisionlog.retention``): XADD each entry, then trim to the retention.
APPEND_SCRIPT = APPEND


class DecisionLog(PendingEntries):
    """A batch is one script call (XADD each entry, then trim): one XADD per entry through
    redis-py's pipeline held drgate at 0.77 of the bench's floor at 20 lines, against 0.88 with no
    decision log at all."""

    def __init__(self, client: aioredis.Redis, keys: Keys, retention: Retention, *, flush_interval: float = 0.1,
                 batch: int = 500, buffer: int = 200_000, fail_open: bool = True, profile: str = "",
                 spool: Spool | None = None) -> None:
        super().__init__(keys, retention, flush_interval=flush_interval, batch=batch, buffer=buffer,
                         fail_open=fail_open, profile=profile, spool=spool)
        self.redis = client
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._append = client.register_script(APPEND_SCRIPT)
        # EVALSHA sha 3 keys... retention...: the same for every batch, packed once
        fixed = [b"EVALSHA", self._append.sha.encode(), b"%d" % len(self.keys),
                 *(str(arg).encode() for arg in [*self.keys, *self.retention])]
        self._fixed = len(fixed), _frame(fixed)

    def append_entry(self, entry: dict[str, object]) -> None:
        """Keep an entry of another kind (it names its ``kind``) for the writer; never raises."""
        if len(self._pending) >= self.buffer:
            self.dropped += 1
            return
        self._pending.append(orjson.dumps(entry))
        if len(self._pending) == self.batch:
            self._wake.set()

    def append(self, result: ClaimResult, front: str = "v1", caller: str | None = None,
               mdtrt: list[str] | None = None, sent: list[str] | None = None) -> None:
        """Hot path: keep the entry for the writer; never waits, never raises.

        The entry is serialised here (~2 µs for 1 line, ~7 for 20), not by the writer: bytes are outside
        the cyclic GC, where a held result and its lines, ~25 objects a claim, made the young
        collections promote and walk thousands of them (~20 µs a 20-line claim, measured)."""
        pending = self._pending
        if len(pending) >= self.buffer:
            self.dropped += 1
            return
        pending.append(decision_entry(time.time(), result, front, caller, mdtrt, sent, fail_open=self.fail_open,
                                      profile=self.profile))
        if len(pending) == self.batch:
            self._wake.set()

    async def start(self) -> None:
        self._recover()
        self._task = asyncio.create_task(self._run(), name="drgate-decision-log")

    async def stop(self, timeout: float = 5.0) -> None:
        """Write what waits (for at most ``timeout`` seconds), then stop the writer."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):  # wait_for cancels the writer at the timeout
            await asyncio.wait_for(self._task, timeout)
        self._task = None
        self._shut()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the writer must outlive any one bad batch; the entries stay queued
                log.exception("decision log writer failed; retrying")
            if self._stopping and not self._pending:
                return

    async def flush(self) -> None:
        """Write every waiting entry, a batch per round trip; on a Redis error keep them for later."""
        while self._pending:
            chunk = self._chunk()
            try:
                await self._write(chunk)
            except (RedisError, OSError) as exc:
                self._refused(exc)
                return
            self._taken(chunk)
        self._all_taken()

    async def _write(self, chunk: list[bytes]) -> None:
        """One call of the append script with ``chunk``: packed here on a connection of the client's
        pool, or through the script object (a cluster; a Redis without the script loaded)."""
        pool = getattr(self.redis, "connection_pool", None)
        if pool is None or self.redis.connection is not None:  # a cluster, or a single-connection client
            await self._append(keys=self.keys, args=[*self.retention, *chunk])
            return
        count, fixed = self._fixed
        connection = await pool.get_connection()
        try:
            await connection.send_packed_command([b"*%d\r\n" % (count + len(chunk)), fixed, _frame(chunk)],
                                                 check_health=False)
            await connection.read_response()
        except NoScriptError:  # a restarted or flushed Redis: EVALSHA's script is gone
            await pool.release(connection)
            connection = None
            await self._append(keys=self.keys, args=[*self.retention, *chunk])  # loads it, then calls it
        except ResponseError:  # the script's error, read whole: the connection is in step
            raise
        except BaseException:  # a reply half read leaves the connection out of step: not reused
            await connection.disconnect()
            raise
        finally:
            if connection is not None:
                await pool.release(connection)


def _frame(args: list[bytes]) -> bytes:
    """``args`` as RESP bulk strings, one after another."""
    return b"".join([b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args])
