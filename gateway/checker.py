"""A claim's decision, shared by the HTTP API and the in-process ``Checker``.

``decide_claim`` is pure: the claim, the records read, the snapshot, the policy → the answer.
``Checker`` is what a Python settlement service imports to check claims without HTTP::

    checker = Checker.connect(Settings())          # or Checker(reader, policy)
    result = checker.check({"claim_id": "C-1", "institution_code": "H33080200001", ...})
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cache.reader import UNREAD, Snapshot
from gateway.decision import PASS, REJECT, STALE, LineDecision, decide_line, decide_unverified
from gateway.schemas import CheckRequest, service_day
from gateway.settings import Settings
from rules.model import iso
from rules.profiles import Profile

__all__ = ["ClaimResult", "LineResult", "Policy", "decide_claim"]


@dataclass(frozen=True, slots=True)
class Policy:
    basis: Mapping[str, str]
    enforce: bool
    fail_open: bool
    emergency_med_types: frozenset[str]
    stale_after: float

    @classmethod
    def from_settings(cls, settings: Settings, profile: Profile) -> Policy:
        return cls(dict(profile.reasons), settings.enforce, settings.fail_open,
                   frozenset(settings.emergency_med_types) | frozenset(settings.rescue_med_types), settings.stale_after)


@dataclass(slots=True)
class LineResult:
    line_id: str
    physician_code: str
    decision: str
    reason: str
    basis: str | None
    until: str | None
    flags: list[str]
    would_reject: str | None


@dataclass(slots=True)
class ClaimResult:
    claim_id: str
    decision: str
    decision_id: str
    snapshot: dict[str, Any]
    enforced: bool
    lines: list[LineResult]


def decide_claim(
    claim: CheckRequest,
    records: Mapping[str, Any],
    snapshot: Snapshot | None,
    policy: Policy,
    *,
    redis_ok: bool = True,
    now: float | None = None,
) -> ClaimResult:
    """Decide every line; ``records`` maps each physician code to its record, None or UNREAD."""
    institution = snapshot.institutions.get(claim.institution_code) if snapshot is not None else None
    stale = snapshot is None or not redis_ok or (
        (time.time() if now is None else now) - snapshot.published_ts > policy.stale_after
    )
    claim_day = service_day(claim.service_date)
    claim_exempt = claim.emergency or claim.rescue or claim.med_type in policy.emergency_med_types
    basis = policy.basis
    lines: list[LineResult] = []
    passed = rejected = 0
    for line in claim.lines:
        on = claim_day if line.service_date is None else service_day(line.service_date)
        exempt = claim_exempt if line.emergency is None else line.emergency
        if line.med_type is not None and line.med_type in policy.emergency_med_types:
            exempt = True
        record = records.get(line.physician_code, UNREAD)
        if record is UNREAD:
            d: LineDecision = decide_unverified(policy.fail_open, exempt, basis)
        else:
            d = decide_line(record, institution, claim.institution_code, on, exempt, basis)
        decision, would_reject = d.decision, d.would_reject
        if decision == REJECT and not policy.enforce:  # shadow mode: answer pass, tell what would be
            decision, would_reject = PASS, d.reason
        flags = [*d.flags, STALE] if stale else list(d.flags)
        if decision == PASS:
            passed += 1
        else:
            rejected += 1
        lines.append(LineResult(line.line_id, line.physician_code, decision, d.reason, d.basis,
                                iso(d.until), flags, would_reject))
    overall = "partial" if passed and rejected else (PASS if passed else REJECT)
    return ClaimResult(
        claim_id=claim.claim_id,
        decision=overall,
        decision_id=uuid.uuid4().hex,
        snapshot={"version": snapshot.version if snapshot else None,
                  "published_at": snapshot.published_at if snapshot else None},
        enforced=policy.enforce,
        lines=lines,
    )


class Checker:
    """In-process checks for a Python settlement service: no HTTP, records cached in this process."""

    def __init__(self, reader: Any, policy: Policy) -> None:
        self.reader = reader  # cache.threaded.SnapshotReader
        self.policy = policy

    @classmethod
    def connect(cls, settings: Settings) -> Checker:
        from cache.keys import Keys
        from cache.reader import SnapshotCache
        from cache.threaded import SnapshotReader
        from gateway.connections import sync_redis
        from rules.profiles import load_profile

        reader = SnapshotReader(sync_redis(settings), SnapshotCache(Keys(settings.redis_prefix), settings.cache_size),
                                poll_interval=settings.poll_interval)
        reader.start()
        return cls(reader, Policy.from_settings(settings, load_profile(settings.profile)))

    def close(self) -> None:
        self.reader.stop()

    def check(self, claim: CheckRequest | Mapping[str, Any]) -> ClaimResult:
        """Decide a claim (a ``CheckRequest`` or a dict of the HTTP body's shape)."""
        if not isinstance(claim, CheckRequest):
            claim = CheckRequest.model_validate(claim)
        records = self.reader.get_many([line.physician_code for line in claim.lines])
        cache = self.reader.cache
        return decide_claim(claim, records, cache.snapshot, self.policy, redis_ok=cache.redis_ok)
