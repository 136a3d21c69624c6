"""衢州 第二十二条 beyond the window itself: what a revocation reopens, and where an extended
suspension ends.

- A suspension that a revocation created or changed (a won case turned a termination into a
  suspension, or shortened the points) gets its restoration window counted from the
  revocation's day at the earliest: ``revision_days`` finds that day, ``rules.calendar`` counts
  the window from it.  A won case must not leave the physician worse off.
- "暂停期限自动延长，直至协议期满解除协议": a suspension extended for want of a request lasts
  until the agreements it suspends reach their ``end``; on that day they are dissolved (解除),
  a termination without a ban (``expire_suspensions``).

Pure, like the engine that calls it; days are ordinals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rules.model import (
    OPEN_END,
    Action,
    Agreement,
    ExplicitSanction,
    PhysicianFacts,
    Sanction,
    Violation,
    day,
)
from rules.profiles import Profile

__all__ = ["SanctionsOf", "expire_suspensions", "revision_days"]

#: The sanctions (explicit and computed, before 第二十二条) of some violations and explicit sanctions.
SanctionsOf = Callable[[tuple[Violation, ...], tuple[ExplicitSanction, ...]], tuple[Sanction, ...]]

_RESTRICTING = (Action.SUSPEND.value, Action.TERMINATE.value)


def revision_days(facts: PhysicianFacts, sanctions_of: SanctionsOf) -> dict[str, int]:
    """``ref`` of each suspension a revocation created or changed -> the day of that revocation.

    The physician's suspensions and terminations are worked out as they stood before the first
    revocation and after each revocation day.  A suspension in force now was created or changed
    on the last day it was not among them yet, or on the last day a termination that began
    before its end was revoked (the physician, terminated, had no suspension to ask to lift).
    """
    if not facts.revoked:
        return {}
    days = sorted({day(r.revoked_on) for r in facts.revoked})

    def standing(after: int) -> frozenset[Sanction]:
        back = [r.fact for r in facts.revoked if day(r.revoked_on) > after]
        found = sanctions_of(
            facts.violations + tuple(f for f in back if isinstance(f, Violation)),
            facts.sanctions + tuple(f for f in back if isinstance(f, ExplicitSanction)),
        )
        return frozenset(s for s in found if s.action in _RESTRICTING)

    states = [standing(days[0] - 1), *(standing(d) for d in days)]  # states[i]: after days[:i]
    opened: dict[str, int] = {}
    for s in states[-1]:
        if s.action != Action.SUSPEND or s.end >= OPEN_END:
            continue
        for i in range(len(days), 0, -1):
            before, after = states[i - 1], states[i]
            lifted = any(t.action == Action.TERMINATE and t.start < s.end for t in before - after)
            if s not in before or lifted:
                opened[s.ref] = days[i - 1]
                break
    return opened


def expire_suspensions(
    profile: Profile, nominal: tuple[Sanction, ...], restored: tuple[Sanction, ...],
    agreements: tuple[Agreement, ...],
) -> tuple[Sanction, ...]:
    """``restored`` (``nominal`` after the restoration windows), with each suspension extended for
    want of a request ending where the agreements it suspends end, and a termination there.

    The agreements suspended are those overlapping the suspension's nominal period.  When one of
    them is open-ended the suspension stays without end.  The termination starts when the last
    of them ends (not before the nominal end) and has no ban: it only ends them, so a renewal
    from that day is not honoured, a new agreement later is (衢州 第二十二条 sets no ban).
    """
    article = profile.articles.get("expired_suspension") or profile.article_for(Action.SUSPEND)
    out: list[Sanction] = []
    for before, after in zip(nominal, restored, strict=True):
        if after.action == Action.SUSPEND and before.end < OPEN_END <= after.end:
            suspended = [a for a in agreements if a.start < before.end and a.end > before.start]
            if suspended and all(a.end < OPEN_END for a in suspended):
                ends = max(before.end, *(a.end for a in suspended))
                out.append(replace(after, end=ends))
                out.append(Sanction(Action.TERMINATE.value, ends, OPEN_END, 0, article, True, f"{after.ref}:expired"))
                continue
        out.append(after)
    return tuple(out)
