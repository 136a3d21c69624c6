"""The one check every front goes through: read → decide → observe.

    read      the records of the claim's physician codes, from the reader the front has: the
              worker's ``cache.async_reader.AsyncSnapshotReader`` (the whole snapshot held: its
              own mapping, no copy) or the in-process front's ``cache.blocking_reader.SnapshotReader``
    decide    ``gateway.check.core.decide_claim`` under the one ``Policy`` (``gateway.check.policy``)
    observe   the answer counted (``gateway.observe.metrics``, when the front has them) and its
              decision log entry appended (``gateway.decisionlog``), naming the front

A front only translates: its wire format into the core's ``Claim`` (``gateway.check.claim``),
and the ``ClaimResult`` back into its own answer.  ``/v1`` (``gateway.api.v1``), the national
platform's transactions (``gateway.formats.nhsa.lines``) and ``gateway.checker.Checker`` do.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from cache.snapshot_cache import UNREAD, SnapshotCache
from gateway.check.claim import Claim, physician_codes
from gateway.check.core import ClaimResult, decide_claim
from gateway.check.policy import Policy
from gateway.observe.logs import DECISION_ID

__all__ = ["CheckService"]


class AsyncRecords(Protocol):
    """A reader on the event loop (``cache.async_reader.AsyncSnapshotReader``)."""

    @property
    def cache(self) -> SnapshotCache: ...

    def held(self, lookups: int) -> Mapping[str, Any] | None: ...

    async def records_for(self, codes: list[str]) -> tuple[Mapping[str, Any], Any]: ...


class BlockingRecords(Protocol):
    """A reader that blocks its caller's thread (``cache.blocking_reader.SnapshotReader``)."""

    @property
    def cache(self) -> SnapshotCache: ...

    def get_many(self, codes: list[str]) -> dict[str, Any]: ...


class Counts(Protocol):
    """The worker's metrics (``gateway.observe.metrics.Metrics``)."""

    def observe(self, result: ClaimResult, seconds: float, cache: SnapshotCache | None = None) -> None: ...


class DecisionSink(Protocol):
    """A decision log writer (``gateway.decisionlog.writer.DecisionLog`` or ``thread_writer.BlockingDecisionLog``)."""

    def append(self, result: ClaimResult, front: str = ..., caller: str | None = None,
               mdtrt: list[str] | None = None, sent: list[str] | None = None) -> None: ...


class CheckService:
    """Read → decide → observe under one policy; ``metrics`` and ``decisions`` None: not kept."""

    __slots__ = ("decisions", "metrics", "policy")

    def __init__(self, policy: Policy, metrics: Counts | None = None, decisions: DecisionSink | None = None) -> None:
        self.policy = policy
        self.metrics = metrics
        self.decisions = decisions

    async def check(self, reader: AsyncRecords, claim: Claim, started: float, front: str, caller: str | None = None,
                    mdtrt: list[str] | None = None, sent: list[str] | None = None) -> ClaimResult:
        """The answer to ``claim`` for a front on the event loop; ``started``: ``perf_counter`` when
        the request came in; ``mdtrt`` the visits and ``sent`` the codes as sent (the national platform's)."""
        records: Mapping[str, Any] | None = reader.held(len(claim["lines"]))
        absent = None  # with the whole snapshot held, a code not in it is not in the registry
        if records is None:
            records, absent = await reader.records_for(physician_codes(claim))
        cache = reader.cache  # no await from here to the decision: the records are the snapshot as of now
        result = decide_claim(claim, records, cache.snapshot, self.policy, redis_ok=cache.redis_ok, absent=absent)
        DECISION_ID.set(result.decision_id)  # for the request's log lines: its task's context only
        self.observe(result, time.perf_counter() - started, cache, front, caller, mdtrt, sent)
        return result

    def check_blocking(self, reader: BlockingRecords, claim: Claim, front: str) -> ClaimResult:
        """The answer to ``claim`` in the caller's thread (the in-process front): the records read
        are a copy taken under the reader's lock, a code not among them unread.  The caller's log
        context is left alone (no decision id set in it)."""
        started = time.perf_counter()
        records = reader.get_many(physician_codes(claim))
        cache = reader.cache
        result = decide_claim(claim, records, cache.snapshot, self.policy, redis_ok=cache.redis_ok, absent=UNREAD)
        self.observe(result, time.perf_counter() - started, cache, front)
        return result

    def observe(self, result: ClaimResult, seconds: float, cache: SnapshotCache, front: str,
                caller: str | None = None, mdtrt: list[str] | None = None, sent: list[str] | None = None) -> None:
        """Count the answer and log it; ``sent``: the codes as sent, when they were resolved to others."""
        if self.metrics is not None:
            self.metrics.observe(result, seconds, cache)
        if self.decisions is not None:
            self.decisions.append(result, front, caller, mdtrt, sent)  # serialised now, written in the background
