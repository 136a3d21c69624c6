"""The gateway's policy, applied in this one place for every front: what turns a line's decision
under the regulations (``gateway.check.decision``) into the answer.

    enforce      false: shadow mode, every rejection answers pass with ``would_reject`` naming it
    fail mode    a record that could not be read: ``unverified``, a pass (fail_open) or a reject
    staleness    Redis unreachable, or no successful sync for ``stale_after`` seconds: ``stale`` flag
    exemptions   emergency, rescue or an emergency 医疗类别 (衢州 第十五条) of the claim or the line
    profile      a snapshot computed for another city's profile: nothing in it is verified here
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from cache.snapshot_cache import Snapshot
from gateway.check.claim import Claim, ClaimLine
from gateway.check.decision import PASS, REJECT, STALE, LineDecision, decide_unverified
from gateway.check.reasons import articles
from gateway.settings import Settings
from rules.profiles import Profile

__all__ = ["Policy"]


@dataclass(frozen=True, slots=True)
class Policy:
    basis: Mapping[str, str]  # reason → article of the configured profile
    enforce: bool
    fail_open: bool
    emergency_med_types: frozenset[str]  # 医疗类别 exempt as emergency or rescue
    stale_after: float  # seconds since the last successful sync
    #: The configured city profile (the decision log names it): a snapshot computed for another
    #: gets `unverified` lines, never another city's articles.  Empty: any (tests of the decision alone).
    profile: str = ""

    @classmethod
    def from_settings(cls, settings: Settings, profile: Profile) -> Policy:
        return cls(articles(profile.reasons), settings.enforce, settings.fail_open,
                   frozenset(settings.emergency_med_types) | frozenset(settings.rescue_med_types), settings.stale_after,
                   profile.name)

    def foreign(self, snapshot: Snapshot | None) -> bool:
        """The snapshot was computed for another profile than the configured one."""
        return snapshot is not None and bool(snapshot.profile) and bool(self.profile) and \
            snapshot.profile != self.profile

    def stale(self, snapshot: Snapshot | None, redis_ok: bool, now: float | None) -> bool:
        """Answered from an old snapshot: none held, Redis unreachable, or no successful sync
        for ``stale_after`` seconds (changes or not)."""
        return snapshot is None or not redis_ok or (
            (time.time() if now is None else now) - snapshot.verified_ts > self.stale_after)

    def claim_exempt(self, claim: Claim) -> bool:
        """Emergency, rescue, or an emergency 医疗类别 on the claim (衢州 第十五条)."""
        return bool(claim.get("emergency", False) or claim.get("rescue", False)
                    or claim.get("med_type") in self.emergency_med_types)

    def line_exempt(self, line: ClaimLine, claim_exempt: bool) -> bool:
        """A line's own flag overrides the claim's; its emergency 医疗类别 exempts it (衢州 第十五条)."""
        flag = line.get("emergency")
        return bool(claim_exempt if flag is None else flag) or line.get("med_type") in self.emergency_med_types

    def unverified(self, exempt: bool) -> LineDecision:
        """The decision of a line whose record could not be read: the fail mode's."""
        return decide_unverified(self.fail_open, exempt, self.basis)

    def answer(self, d: LineDecision, stale: bool) -> tuple[str, str | None, tuple[str, ...]]:
        """(decision, would_reject, flags) answered for ``d``: shadow mode passes a rejection and
        names it; an answer from an old snapshot is flagged ``stale``."""
        decision, would_reject = d.decision, d.would_reject
        if decision == REJECT and not self.enforce:
            decision, would_reject = PASS, d.reason
        return decision, would_reject, (*d.flags, STALE) if stale else d.flags

