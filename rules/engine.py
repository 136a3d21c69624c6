"""The sanction engine: a physician's facts in, the record the gateway enforces out.

``evaluate(profile, facts, calendar)`` is pure.  It applies explicit sanctions (always, beside
computed ones), clips agreements by terminations, and reports per year what an officer reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.model import (
    Action,
    Agreement,
    Credit,
    PhysicianFacts,
    PhysicianRecord,
    Sanction,
    day,
    day_or_open,
)
from rules.profiles import Profile

__all__ = ["Due", "Evaluation", "YearReport", "evaluate"]


@dataclass(frozen=True, slots=True)
class Due:
    """A decision an officer owes (苏州 第十六条: notice and hearing before a suspension)."""

    action: str
    article: str
    reason: str


@dataclass(frozen=True, slots=True)
class YearReport:
    year: int
    points: int
    remaining: int | None  # 衢州 only: 12 - points
    sanctions: tuple[Sanction, ...]
    due: tuple[Due, ...]


@dataclass(frozen=True, slots=True)
class Evaluation:
    record: PhysicianRecord
    years: tuple[YearReport, ...]


def evaluate(profile: Profile, facts: PhysicianFacts, calendar: object | None = None) -> Evaluation:
    sanctions = tuple(
        Sanction(
            action=s.action,
            start=day(s.start),
            end=day_or_open(s.end),
            ban_until=day(s.ban_until) if s.ban_until else 0,
            article=profile.article_for(s.action),
            computed=False,
            ref=s.id,
        )
        for s in sorted(facts.sanctions, key=lambda s: (s.start, s.id))
    )
    record = PhysicianRecord(
        code=facts.code,
        agreements=clip_agreements(facts.agreements, sanctions),
        sanctions=sanctions,
        credits=tuple(
            Credit(c.level, day(c.effective_from)) for c in sorted(facts.credits, key=lambda c: c.effective_from)
        ),
    )
    return Evaluation(record=record, years=())


def clip_agreements(agreements: tuple[Agreement, ...], sanctions: tuple[Sanction, ...]) -> tuple[Agreement, ...]:
    """Agreements as a termination leaves them.

    An agreement that started on or before a termination ends with it; one that starts later is
    honoured only from ``ban_until`` on (衢州 第二十一条).
    """
    terminations = [s for s in sanctions if s.action == Action.TERMINATE]
    if not terminations:
        return tuple(sorted(agreements, key=lambda a: (a.institution, a.start)))
    clipped: list[Agreement] = []
    for agreement in agreements:
        start, end = agreement.start, agreement.end
        for t in terminations:
            if start <= t.start:
                end = min(end, t.start)
            else:
                start = max(start, t.ban_until or t.start)
        if start < end:
            clipped.append(Agreement(agreement.institution, start, end))
    return tuple(sorted(clipped, key=lambda a: (a.institution, a.start)))

