"""The sanction engine: a physician's facts in, the record the gateway enforces out.

``evaluate(profile, facts, calendar)`` is pure.  In order:

1. the ledger counts the points (``rules.ledger``: per calendar year of ``scored_on``, all
   institutions together, the profile's counting rule);
2. with ``auto_sanctions`` the bands of 衢州 第二十一条 are computed (``rules.sanctions``);
3. explicit sanctions of the store always apply, beside the computed ones;
4. 衢州 第二十二条: a suspension with an end is lifted at that end only if a restoration request
   was filed in its window (counted from a revocation that created or changed it, at the
   earliest), otherwise it stays in force until the agreements it suspends expire, and a
   termination (解除) follows (``rules.calendar``, ``rules.restoration``);
5. terminations clip the agreements (``clip_agreements``), credit D cancels them (``cancel_disqualified``);
6. a ``YearReport`` per year: points, what is left of the year's points (衢州 第十六条), the
   sanctions in force that year, and the decisions due (苏州 第十六条).

Years reported are those with a violation scored or a sanction starting in them;
``report_for_year`` gives any other year (no points, the sanctions still in force).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rules.calendar import WorkingCalendar, add_years, china_calendar, restore_suspensions
from rules.ledger import Entry, entries, year_totals
from rules.model import (
    OPEN_END,
    Action,
    Agreement,
    Credit,
    ExplicitSanction,
    PhysicianFacts,
    PhysicianRecord,
    Sanction,
    Violation,
    day,
    day_or_open,
    iso,
)
from rules.profiles import Profile
from rules.restoration import expire_suspensions, revision_days
from rules.sanctions import computed_sanctions

__all__ = [
    "Due", "Evaluation", "YearReport", "cancel_disqualified", "clip_agreements", "evaluate", "physician_record",
    "report_for_year", "terminations",
]


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
    remaining: int | None  # 衢州 only: 12 - points, floored at 0 (第十六条 初始分值 12 分)
    sanctions: tuple[Sanction, ...]  # in force at some time of the year, by (start, ref)
    due: tuple[Due, ...]


@dataclass(frozen=True, slots=True)
class Evaluation:
    record: PhysicianRecord
    years: tuple[YearReport, ...]


def evaluate(profile: Profile, facts: PhysicianFacts, calendar: WorkingCalendar | None = None) -> Evaluation:
    """The physician's record and yearly reports under ``profile``.

    ``calendar`` gives the Chinese working days of 衢州 第二十二条; by default the process-wide
    one (built on first use).
    """
    ledger = entries(profile, facts.violations)
    record = _record(profile, facts, ledger, calendar)
    sanctions = record.sanctions
    years = sorted({e.year for e in ledger} | {date.fromordinal(s.start).year for s in sanctions})
    return Evaluation(record=record, years=tuple(_report(profile, year, ledger, sanctions) for year in years))


def physician_record(profile: Profile, facts: PhysicianFacts, calendar: WorkingCalendar | None = None
                     ) -> PhysicianRecord:
    """``evaluate(...).record`` without the yearly reports: what the sync publishes."""
    return _record(profile, facts, entries(profile, facts.violations), calendar)


def _record(profile: Profile, facts: PhysicianFacts, ledger: tuple[Entry, ...],
            calendar: WorkingCalendar | None) -> PhysicianRecord:
    sanctions = _explicit(profile, facts.sanctions) + computed_sanctions(profile, ledger)
    count = profile.bands.restoration_working_days
    if count > 0 and sanctions:  # 衢州 第二十二条
        filed = [day(r.filed_on) for r in facts.restorations]

        def sanctions_of(violations: tuple[Violation, ...], explicit: tuple[ExplicitSanction, ...]
                         ) -> tuple[Sanction, ...]:
            return _explicit(profile, explicit) + computed_sanctions(profile, entries(profile, violations))

        opened = revision_days(facts, sanctions_of)
        restored = restore_suspensions(sanctions, filed, count, calendar or china_calendar(), opened)
        sanctions = expire_suspensions(profile, sanctions, restored, facts.agreements)
    sanctions = tuple(sorted(sanctions, key=lambda s: (s.start, s.ref)))
    credits = tuple(
        Credit(c.level, day(c.effective_from)) for c in sorted(facts.credits, key=lambda c: c.effective_from)
    )
    return PhysicianRecord(
        code=facts.code,
        agreements=cancel_disqualified(clip_agreements(facts.agreements, sanctions), credits),
        sanctions=sanctions,
        credits=credits,
        points=tuple(sorted(year_totals(ledger).items())),
    )


def terminations(profile: Profile, facts: PhysicianFacts) -> tuple[Sanction, ...]:
    """The physician's terminations, explicit and computed, by start: what bans new agreements.

    衢州 第二十二条 touches only suspensions, so no calendar is needed; ``facts.agreements`` are not read.
    """
    found = _explicit(profile, facts.sanctions) + computed_sanctions(profile, entries(profile, facts.violations))
    return tuple(sorted((s for s in found if s.action == Action.TERMINATE), key=lambda s: (s.start, s.ref)))


def _explicit_ban(profile: Profile, s: ExplicitSanction) -> int:
    """``ban_until`` of an explicit sanction; a termination without one bans for the profile's
    years (衢州 第二十一条: 自解除服务协议之日起一年内不再接受)."""
    if s.ban_until is not None:
        return day(s.ban_until)
    if s.action == Action.TERMINATE and profile.bands.terminate_ban_years:
        return add_years(day(s.start), profile.bands.terminate_ban_years)
    return 0


def _explicit(profile: Profile, explicit: tuple[ExplicitSanction, ...]) -> tuple[Sanction, ...]:
    return tuple(
        Sanction(
            action=s.action,
            start=day(s.start),
            end=day_or_open(s.end),
            ban_until=_explicit_ban(profile, s),
            article=profile.article_for(s.action),
            computed=False,
            ref=s.id,
        )
        for s in explicit
    )


def report_for_year(profile: Profile, evaluation: Evaluation, year: int) -> YearReport:
    """The report of ``year``, also for a year without violations (points 0, sanctions in force)."""
    for report in evaluation.years:
        if report.year == year:
            return report
    return _report(profile, year, (), evaluation.record.sanctions)


def clip_agreements(
    agreements: tuple[Agreement, ...], sanctions: tuple[Sanction, ...]
) -> tuple[Agreement, ...]:
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


def cancel_disqualified(agreements: tuple[Agreement, ...], credits: tuple[Credit, ...]) -> tuple[Agreement, ...]:
    """Agreements as credit D leaves them (衢州 第二十三条 取消其医保医师资格).

    D cancels the agreements held on its ``effective_from``: they end that day, and a later A, B
    or C rating does not revive them.  An agreement that starts while D is the rating in force is
    cancelled too; one that starts on or after the better rating is honoured.  ``credits`` are
    sorted by start.
    """
    spans: list[tuple[int, int]] = []  # [D from, better rating from)
    since = -1
    for c in credits:
        if c.level == "D" and since < 0:
            since = c.start
        elif c.level != "D" and since >= 0:
            spans.append((since, c.start))
            since = -1
    if since >= 0:
        spans.append((since, OPEN_END))
    if not spans:
        return agreements
    kept: list[Agreement] = []
    for a in agreements:
        end = a.end
        for first, better in spans:
            if a.start < better and end > first:
                end = min(end, first)
        if a.start < end:
            kept.append(a if end == a.end else Agreement(a.institution, a.start, end))
    return tuple(kept)


def in_force_until(sanction: Sanction) -> int:
    """First day a sanction no longer restricts: ``ban_until`` for a termination that has one."""
    if sanction.action == Action.TERMINATE and sanction.ban_until:
        return max(sanction.ban_until, sanction.start + 1)
    return sanction.end


def _report(
    profile: Profile, year: int, ledger: tuple[Entry, ...], sanctions: tuple[Sanction, ...]
) -> YearReport:
    first, next_first = date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal()
    year_entries = [e for e in ledger if e.year == year]
    points = sum(e.points for e in year_entries)
    return YearReport(
        year=year,
        points=points,
        remaining=max(profile.year_points - points, 0) if profile.report_remaining else None,
        sanctions=tuple(s for s in sanctions if s.start < next_first and in_force_until(s) > first),
        due=_due(profile, year_entries, sanctions),
    )


def _due(profile: Profile, year_entries: list[Entry], sanctions: tuple[Sanction, ...]) -> tuple[Due, ...]:
    """苏州 第十六条: reaching the points suspends settlement only by an officer's decision.

    Due from the day the total reaches ``settlement_suspension_points`` until a
    ``settlement_suspend`` sanction starting on or after that day records the decision.
    """
    threshold = profile.bands.settlement_suspension_points
    if profile.auto_sanctions or threshold <= 0:
        return ()
    total = 0
    for entry in sorted(year_entries, key=lambda e: (e.day, e.violation_id)):
        total += entry.points
        if total >= threshold:
            reached = entry.day
            break
    else:
        return ()
    decided = any(s.action == Action.SETTLEMENT_SUSPEND and s.start >= reached for s in sanctions)
    if decided:
        return ()
    points = sum(e.points for e in year_entries)
    reason = (
        f"{points} points in {date.fromordinal(reached).year} reached {threshold} on {iso(reached)}; "
        "settlement may be suspended only after notice and a hearing"
    )
    return (
        Due(
            action=Action.SETTLEMENT_SUSPEND.value,
            article=profile.article_for(Action.SETTLEMENT_SUSPEND),
            reason=reason,
        ),
    )
