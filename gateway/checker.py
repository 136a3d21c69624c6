"""The in-process front: what a Python settlement service imports to check claims without HTTP::

    checker = Checker.connect(Settings())          # or Checker(reader, policy)
    result = checker.check({"claim_id": "C-1", "institution_code": "H33080200001", ...})

It translates the caller's claim (a dict of the HTTP body's shape, validated as ``/v1`` validates
it, or a ``CheckRequest``) into the core's ``Claim`` and hands it to the one check
(``gateway.check.service``), with the blocking reader and the thread-fed decision log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from gateway.api.schemas import CLAIM, CheckRequest
from gateway.check.claim import Claim
from gateway.check.core import ClaimResult
from gateway.check.policy import Policy
from gateway.check.service import CheckService
from gateway.connections import close_redis
from gateway.settings import Settings

__all__ = ["Checker", "ClaimResult", "Policy"]


class Checker:
    """In-process checks for a Python settlement service: no HTTP, records cached in this process."""

    def __init__(self, reader: Any, policy: Policy, *, owns_client: bool = False, decisions: Any = None) -> None:
        self.reader = reader  # cache.blocking_reader.SnapshotReader
        # decisions: gateway.decisionlog.thread_writer.BlockingDecisionLog, started; None: no log
        self.checks = CheckService(policy, decisions=decisions)
        self._owns_client = owns_client  # close the reader's Redis client on close()

    @property
    def policy(self) -> Policy:
        return self.checks.policy

    @property
    def decisions(self) -> Any:
        """The decision log written to, or None."""
        return self.checks.decisions

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
        """Decide a claim (a ``CheckRequest`` or a dict of the HTTP body's shape); ``ValueError``
        (pydantic's, naming the field) when the dict is malformed."""
        return self.checks.check_blocking(self.reader, claim_of(claim), "inprocess")


def claim_of(claim: CheckRequest | Mapping[str, Any]) -> Claim:
    """The core's claim: a dict validated as ``/v1`` validates a body; a ``CheckRequest``'s fields,
    the optional ones left out when unset (as absent keys of a body are)."""
    if isinstance(claim, CheckRequest):
        return cast(Claim, claim.model_dump(exclude_none=True))
    return CLAIM.validate_python(claim)
