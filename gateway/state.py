"""What one gateway worker holds: settings, profile, policy, Redis, the snapshot reader, metrics, decision log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from cache.async_reader import AsyncSnapshotReader
from cache.eviction import EvictionWatch
from cache.snapshot_cache import SnapshotCache
from gateway.check.core import ClaimResult, Policy
from gateway.observe.logs import DECISION_ID
from gateway.observe.metrics import Metrics
from gateway.settings import Settings
from rules.calendar import WorkingCalendar
from rules.profiles import Profile
from rules.store.scans import Store

if TYPE_CHECKING:
    from gateway.decisionlog.backlog import ArchiveBacklog
    from gateway.decisionlog.writer import DecisionLog
    from rules.store.archive.reads import ArchiveReader

__all__ = ["GatewayState"]


@dataclass(slots=True)
class GatewayState:
    settings: Settings
    profile: Profile
    policy: Policy
    redis: aioredis.Redis
    cache: SnapshotCache
    reader: AsyncSnapshotReader
    metrics: Metrics
    decisions: DecisionLog | None = None
    store: Store | None = None  # the help desk's reasons (DRGATE_STATUS_STORE), never the claim check
    calendar: WorkingCalendar | None = None
    archive: ArchiveReader | None = None  # lookups of /v1/decisions
    eviction: EvictionWatch = field(default_factory=EvictionWatch)  # the snapshot Redis's maxmemory-policy
    backlog: ArchiveBacklog | None = None  # the archiver's progress through the decision log

    def observe(self, result: ClaimResult, seconds: float, front: str = "v1", caller: str | None = None,
                mdtrt: list[str] | None = None, sent: list[str] | None = None) -> None:
        """Count the answer and log it; ``sent``: the codes as sent, when they were resolved to others."""
        DECISION_ID.set(result.decision_id)  # for the request's log lines (gateway.observe.logs)
        self.metrics.observe(result, seconds, self.cache)
        if self.decisions is not None:
            self.decisions.append(result, front, caller, mdtrt, sent)  # written to the stream by a background task
