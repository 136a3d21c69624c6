"""Whether the snapshot's Redis may evict the snapshot's keys: its ``maxmemory-policy``.

Redis evicts only once ``used_memory`` passes ``maxmemory`` (0: no limit, nothing is evicted):

    allkeys-lru|lfu|random   any key may go, a published bucket included: its physicians' lines
                             are `unverified` until the next full sync (the issue measured 84 %
                             of lines with the decision log filling the same Redis)
    volatile-lru|lfu|random|ttl
                             only keys with a TTL may go.  The published snapshot is safe (the
                             flip PERSISTs its keys), but a full sync's build keys carry
                             BUILD_TTL_SECONDS until the flip and the replaced snapshot its grace
                             TTL: under memory pressure a build loses keys, the sync refuses to
                             flip (exit 1, nothing published) and the snapshot grows old; the sync
                             lock (a TTL too) may go, which the flip's WATCH fences
    noeviction               nothing goes; a write past maxmemory fails (OOM): the sync exits 1

Both ``drgate sync`` (a warning line) and ``/readyz`` (``warnings``, still ready) say so.  The
check reads ``INFO memory``, which managed Redis services allow where ``CONFIG GET`` is refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import redis
import redis.asyncio as aioredis

__all__ = ["EvictionWatch", "check_eviction", "eviction_warning"]

log = logging.getLogger(__name__)

#: Seconds a gateway worker reuses its last answer (``/readyz`` is probed every few seconds).
RECHECK_SECONDS = 60.0


def eviction_warning(info: Mapping[str, Any]) -> str | None:
    """The warning ``INFO memory`` of the snapshot's Redis calls for (one node's, or a cluster's
    by node), or None."""
    if info and all(isinstance(v, Mapping) for v in info.values()):  # a cluster: the first node that warns
        return next((w for node in info.values() if (w := eviction_warning(node)) is not None), None)
    policy, limit = str(info.get("maxmemory_policy", "")), int(info.get("maxmemory", 0) or 0)
    if not limit:
        return None
    mb = f"maxmemory {limit / 2**20:.0f} MB"
    if policy.startswith("allkeys-"):
        return (f"the snapshot's Redis has maxmemory-policy {policy} ({mb}): it may evict published snapshot "
                "keys, whose physicians' lines then answer `unverified`; set noeviction (or volatile-lru), size "
                "maxmemory for three snapshots, and give the decision log its own Redis (DRGATE_DECISION_LOG_URL)")
    if policy.startswith("volatile-"):
        return (f"the snapshot's Redis has maxmemory-policy {policy} ({mb}): the published snapshot is safe, "
                "but a full sync's keys carry a TTL until the flip and may be evicted under memory pressure (the "
                "sync then exits 1 and publishes nothing); size maxmemory for three snapshots plus the decision "
                "log, or set noeviction")
    return None


def check_eviction(client: redis.Redis) -> str | None:
    """The warning for this Redis; None too when it refuses ``INFO`` (logged)."""
    try:
        info: Mapping[str, Any] = client.info("memory")
    except (redis.RedisError, OSError) as exc:
        log.info("could not read the eviction policy (%s)", type(exc).__name__)
        return None
    return eviction_warning(info)


class EvictionWatch:
    """A gateway worker's view of the eviction policy, read at most every RECHECK_SECONDS."""

    __slots__ = ("_at", "_warning")

    def __init__(self) -> None:
        self._at = -RECHECK_SECONDS
        self._warning: str | None = None

    async def warning(self, client: aioredis.Redis) -> str | None:
        now = time.monotonic()
        if now - self._at >= RECHECK_SECONDS:
            try:
                self._warning = eviction_warning(await client.info("memory"))
            except (redis.RedisError, OSError) as exc:
                log.info("could not read the eviction policy (%s)", type(exc).__name__)
            self._at = now
        return self._warning
