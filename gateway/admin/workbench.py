"""What the admin API holds per worker: the scoring store, the profile and calendar the import
validates with, and the settings an incremental sync is run with (``POST /admin/v1/publish``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cache.keys import Keys
from cache.meta import read_meta
from cache.sync import Syncer
from gateway.connections import close_redis, sync_redis
from gateway.settings import Settings
from rules.calendar import WorkingCalendar
from rules.profiles import Profile
from rules.store.scans import Store

__all__ = ["Workbench"]


@dataclass(slots=True)
class Workbench:
    settings: Settings
    profile: Profile
    calendar: WorkingCalendar
    store: Store

    def publish(self) -> dict[str, Any]:
        """Run an incremental sync now, as `drgate sync` would; what it published.

        ``SyncLocked`` when another sync holds the lock (no wait: the caller retries), and the
        sync's own errors (``ShrinkRefused``, ``LockLost``) as they come."""
        client = sync_redis(self.settings, timeout=30.0, retries=3)
        keys = Keys(self.settings.redis_prefix)
        try:
            syncer = Syncer(client, keys, self.store, self.profile, self.calendar,
                            max_shrink=self.settings.max_shrink, grace_seconds=self.settings.grace_seconds,
                            lock_ttl_ms=int(self.settings.sync_lock_ttl * 1000))
            with syncer.lock(wait=0.0):
                result = syncer.incremental()
            meta = read_meta(client, keys)
        finally:
            close_redis(client)
        return {"snapshot": {"id": meta.get("id"), "version": result.version, "generation": result.generation,
                             "published_at": meta.get("published_at")},
                "mode": result.mode, "physicians": result.physicians, "institutions": result.institutions,
                "changed": result.changed, "watermark": result.watermark, "seconds": round(result.seconds, 3)}
