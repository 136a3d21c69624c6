"""The in-process front: what a Python settlement service imports to check claims without HTTP::

    checker = Checker.connect(Settings())          # or Checker(reader, policy)
    result = checker.check({"claim_id": "C-1", "institution_code": "H33080200001", ...})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from gateway.api.schemas import CLAIM, CheckRequest, ClaimIn
from gateway.check.core import ClaimResult, Policy, decide_claim
from gateway.connections import close_redis
from gateway.settings import Settings

__all__ = ["Checker", "ClaimResult", "Policy"]


class Checker:
    """In-process checks for a Python settlement service: no HTTP, records cached in this process."""

    def __init__(self, reader: Any, policy: Policy, *, owns_client: bool = False, decisions: Any = None) -> None:
        self.reader = reader  # cache.blocking_reader.SnapshotReader
        self.policy = policy
        self.decisions = decisions  # gateway.decisionlog.thread_writer.BlockingDecisionLog, started; None: no log
        self._owns_client = owns_client  # close the reader's Redis client on close()

    @classmethod
    def connect(cls, settings: Settings) -> Checker:
        from pathlib import Path

        from cache.blocking_reader import SnapshotReader
        from cache.keys import Keys
        from cache.snapshot_cache import SnapshotCache
        from gateway.connections import sync_redis
        from gateway.decisionlog.spool import Spool
        from gateway.decisionlog.thread_writer import BlockingDecisionLog
        from rules.profiles import load_profile

        keys = Keys(settings.redis_prefix)
        reader = SnapshotReader(sync_redis(settings), SnapshotCache(keys, settings.cache_size, settings.profile),
                                poll_interval=settings.poll_interval)
        reader.start()
        profile = load_profile(settings.profile)
        from gateway.decisionlog.retention import Retention

        own = settings.decision_log_redis()  # its own Redis, when DRGATE_DECISION_LOG_URL is set
        retention = Retention(settings.decision_log_maxlen, settings.decision_log_max_bytes,
                              settings.decision_log_max_age)
        decisions = BlockingDecisionLog(reader.redis if own is None else sync_redis(own), keys, retention,
                                        buffer=settings.decision_log_buffer, fail_open=settings.fail_open,
                                        profile=profile.name, spool=Spool(Path(settings.var_dir) / "spool"))
        decisions.start()
        return cls(reader, Policy.from_settings(settings, profile), owns_client=True, decisions=decisions)

    def close(self) -> None:
        """Write the decision log's waiting entries (spool what cannot be), stop reading, close."""
        if self.decisions is not None:
            self.decisions.stop()
        self.reader.stop()
        if self._owns_client:  # behind a Sentinel URL, with the connections to the sentinels
            close_redis(self.reader.redis)
            if self.decisions is not None and self.decisions.redis is not self.reader.redis:
                close_redis(self.decisions.redis)  # the decision log's own Redis (DRGATE_DECISION_LOG_URL)

    def profile_mismatch(self) -> tuple[str, str] | None:
        """(the snapshot's profile, the configured one) while they differ: every line is `unverified`."""
        snapshot = self.reader.cache.snapshot
        if snapshot is None or not self.policy.profile or snapshot.profile == self.policy.profile:
            return None
        return snapshot.profile, self.policy.profile

    def check(self, claim: CheckRequest | Mapping[str, Any]) -> ClaimResult:
        """Decide a claim (a ``CheckRequest`` or a dict of the HTTP body's shape)."""
        parsed = cast(ClaimIn, claim.model_dump()) if isinstance(claim, CheckRequest) else CLAIM.validate_python(claim)
        records = self.reader.get_many([line["physician_code"] for line in parsed["lines"]])
        cache = self.reader.cache
        result = decide_claim(parsed, records, cache.snapshot, self.policy, redis_ok=cache.redis_ok)
        if self.decisions is not None:
            self.decisions.append(result)  # serialised here, written by the log's thread
        return result
