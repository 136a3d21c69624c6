"""A claim's decision, shared by the HTTP API and the in-process ``Checker``.

``decide_claim`` is pure: the claim, the records read, the snapshot, the policy → the answer.
``Checker`` is what a Python settlement service imports to check claims without HTTP::

    checker = Checker.connect(Settings())          # or Checker(reader, policy)
    result = checker.check({"claim_id": "C-1", "institution_code": "H33080200001", ...})
"""

from __future__ import annotations

import itertools
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from cache.reader import UNREAD, Snapshot
from gateway.decision import EMERGENCY, PASS, REJECT, STALE, LineDecision, decide_line, decide_unverified
from gateway.schemas import CLAIM, CheckRequest, ClaimIn, service_day
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
    claim: ClaimIn | CheckRequest,
    records: Mapping[str, Any],
    snapshot: Snapshot | None,
    policy: Policy,
    *,
    redis_ok: bool = True,
    now: float | None = None,
) -> ClaimResult:
    """Decide every line; ``records`` maps each physician code to its record, None or UNREAD."""
    if isinstance(claim, CheckRequest):
        claim = cast(ClaimIn, claim.model_dump())
    institution_code = claim["institution_code"]
    institution = snapshot.institutions.get(institution_code) if snapshot is not None else None
    stale = snapshot is None or not redis_ok or (
        (time.time() if now is None else now) - snapshot.published_ts > policy.stale_after
    )
    claim_day = service_day(claim["service_date"])
    emergency_types = policy.emergency_med_types
    claim_exempt = claim.get("emergency", False) or claim.get("rescue", False) or \
        claim.get("med_type") in emergency_types
    basis = policy.basis
    enforce = policy.enforce
    # Fast path (most lines): an institution without sanctions and a record with agreements only:
    # the line is ok exactly when an agreement covers the day; the answer is a constant.
    plain_site = institution is None or not institution.sanctions
    get = records.get
    lines: list[LineResult] = []
    append = lines.append
    passed = rejected = 0
    for line in claim["lines"]:
        code = line["physician_code"]
        line_date = line.get("service_date")
        on = claim_day if line_date is None else service_day(line_date)
        line_flag = line.get("emergency")
        exempt = claim_exempt if line_flag is None else line_flag
        if line.get("med_type") in emergency_types:
            exempt = True
        record = get(code, UNREAD)
        if plain_site and record is not UNREAD and record is not None and not record.sanctions \
                and not record.credits:
            covered = False
            for a in record.agreements:
                if a.start <= on < a.end and a.institution == institution_code:
                    covered = True
                    break
            if covered:
                flags = [EMERGENCY, STALE] if exempt and stale else [EMERGENCY] if exempt else \
                    [STALE] if stale else []
                append(LineResult(line["line_id"], code, PASS, "ok", None, None, flags, None))
                passed += 1
                continue
        if record is UNREAD:
            d: LineDecision = decide_unverified(policy.fail_open, exempt, basis)
        else:
            d = decide_line(record, institution, institution_code, on, exempt, basis)
        decision, would_reject = d.decision, d.would_reject
        if decision == REJECT and not enforce:  # shadow mode: answer pass, tell what would be
            decision, would_reject = PASS, d.reason
        flags = [*d.flags, STALE] if stale else list(d.flags)
        if decision == PASS:
            passed += 1
        else:
            rejected += 1
        append(LineResult(line["line_id"], code, decision, d.reason, d.basis, iso(d.until), flags, would_reject))
    overall = "partial" if passed and rejected else (PASS if passed else REJECT)
    return ClaimResult(
        claim_id=claim["claim_id"],
        decision=overall,
        decision_id=decision_id(),
        snapshot={"version": snapshot.version if snapshot else None,
                  "published_at": snapshot.published_at if snapshot else None},
        enforced=enforce,
        lines=lines,
    )


def decision_id() -> str:
    """A unique id: 64 random bits per process, then a counter (uuid4 costs ~2 µs a claim)."""
    pid = os.getpid()
    if _ids[0] != pid:  # a new process (fork): new random bits
        _ids[:] = [pid, secrets.token_hex(8), itertools.count()]
    return f"{_ids[1]}{next(_ids[2]):016x}"


_ids: list[Any] = [0, "", itertools.count()]


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
        parsed = cast(ClaimIn, claim.model_dump()) if isinstance(claim, CheckRequest) else CLAIM.validate_python(claim)
        records = self.reader.get_many([line["physician_code"] for line in parsed["lines"]])
        cache = self.reader.cache
        return decide_claim(parsed, records, cache.snapshot, self.policy, redis_ok=cache.redis_ok)
