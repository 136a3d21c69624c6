"""What one gateway worker holds: settings, profile, the check (its policy), Redis, the snapshot reader,
metrics, decision log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from cache.async_reader import AsyncSnapshotReader
from cache.eviction import EvictionWatch
from cache.snapshot_cache import SnapshotCache
from gateway.check.policy import Policy
from gateway.check.service import CheckService
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
    checks: CheckService  # read → decide → observe, for /v1 and the national platform's transactions
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

    @property
    def policy(self) -> Policy:
        """The policy the checks apply (the help desk explains a line under it too)."""
        return self.checks.policy
