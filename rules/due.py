"""What an officer owes, per physician (`drgate rules evaluate`'s ``due``): each item with its
article, the day it became due and, where the regulation sets one, its deadline.

- ``interview`` (衢州 第二十一条 "累计扣分达到 6 分的 ... 进行约谈"): from the day the interview band
  is reached, until an explicit ``interview`` sanction of that year (on or after it) records it;
- ``hearing`` and ``settlement_suspend`` (苏州 第十六条 "事先告知 ... 听取其陈述申辩"): from the day
  the year's total reaches the settlement-suspension points, until a ``settlement_suspend`` decision
  starting on or after that day;
- ``decide_appeal`` (衢州 第二十七条): from the filing, due within 30 working days, until decided;
- ``serve_notice`` (衢州 第二十一条, 苏州 第十五条、第十六条): every notice owed and not served.

A deadline counted over a year whose 调休 the calendar does not know carries ``calendar_known: false``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rules.appeals import decision_deadline
from rules.calendar import WorkingCalendar
from rules.engine import Evaluation
from rules.ledger import entries
from rules.model import Action, PhysicianFacts, iso
from rules.notices import Notice
from rules.profiles import Profile
from rules.workflow import WorkflowFacts

__all__ = ["DueItem", "due_items", "due_json"]


@dataclass(frozen=True, slots=True)
class DueItem:
    action: str  # interview | hearing | settlement_suspend | decide_appeal | serve_notice
    article: str
    reason: str
    since: int  # the day it became due
    deadline: int = 0  # the last day in time, 0 when the regulation sets none
    calendar_known: bool = True
    ref: str = ""  # the appeal's or the notice's id


def due_items(profile: Profile, facts: PhysicianFacts, evaluation: Evaluation, workflow: WorkflowFacts,
              notices: tuple[Notice, ...], calendar: WorkingCalendar, year: int) -> tuple[DueItem, ...]:
    """What became due in ``year``, and the appeals of earlier years still undecided (the notices
    of earlier years still unserved are in ``drgate notices --due``)."""
    first, next_first = date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal()
    items = [*_interviews(profile, evaluation), *_hearings(profile, facts, evaluation),
             *_appeals(profile, workflow, calendar),
             *_unserved(notices)]
    kept = (i for i in items if i.since < next_first and (i.since >= first or i.action == "decide_appeal"))
    return tuple(sorted(kept, key=lambda i: (i.since, i.action, i.ref)))


def _unserved(notices: tuple[Notice, ...]) -> list[DueItem]:
    """One item per cause with the recipients not served yet (the ids are ``{cause}@{recipient}``)."""
    by_cause: dict[str, list[Notice]] = {}
    for n in notices:
        if not n.served_on:
            by_cause.setdefault(n.cause, []).append(n)
    return [DueItem("serve_notice", group[0].article,
                    f"to {', '.join(n.recipient for n in group)}: {group[0].what}", group[0].owed_on,
                    ref=cause) for cause, group in by_cause.items()]


def _interviews(profile: Profile, evaluation: Evaluation) -> list[DueItem]:
    sanctions = evaluation.record.sanctions
    out = []
    for band in (s for s in sanctions if s.computed and s.action == Action.INTERVIEW):
        year_end = date(date.fromordinal(band.start).year + 1, 1, 1).toordinal()
        held = any(s.action == Action.INTERVIEW and not s.computed and band.start <= s.start < year_end
                   for s in sanctions)
        if not held:
            out.append(DueItem("interview", band.article,
                               f"the total reached {profile.bands.interview_points} points on {iso(band.start)}: "
                               "interview with the institution (约谈)", band.start, ref=band.ref))
    return out


def _hearings(profile: Profile, facts: PhysicianFacts, evaluation: Evaluation) -> list[DueItem]:
    threshold = profile.bands.settlement_suspension_points
    if profile.auto_sanctions or threshold <= 0:
        return []
    article = profile.article_for("prior_notice") or profile.article_for(Action.SETTLEMENT_SUSPEND)
    reached: dict[int, tuple[int, int]] = {}
    totals: dict[int, int] = {}
    for e in entries(profile, facts.violations):
        totals[e.year] = totals.get(e.year, 0) + e.points
        if totals[e.year] >= threshold and e.year not in reached:
            reached[e.year] = (e.day, totals[e.year])
    out = []
    for year, (on, _) in sorted(reached.items()):
        if any(s.action == Action.SETTLEMENT_SUSPEND and s.start >= on for s in evaluation.record.sanctions):
            continue
        points = totals[year]
        out.append(DueItem("hearing", article, f"{points} points in {year} reached {threshold} on {iso(on)}: "
                           "tell the physician and the institution the basis and reasons, hear them (陈述申辩)", on))
        out.append(DueItem(Action.SETTLEMENT_SUSPEND.value, profile.article_for(Action.SETTLEMENT_SUSPEND),
                           f"{points} points in {year} reached {threshold} on {iso(on)}; settlement may be "
                           "suspended only after notice and a hearing", on))
    return out


def _appeals(profile: Profile, workflow: WorkflowFacts, calendar: WorkingCalendar) -> list[DueItem]:
    out = []
    for a in workflow.appeals:
        if a.decided_on is not None:
            continue
        deadline = decision_deadline(profile, calendar, a.filed_on.toordinal())
        out.append(DueItem("decide_appeal", profile.article_for("appeal"),
                           f"appeal {a.id} against {a.target_id}, filed on {a.filed_on.isoformat()}",
                           a.filed_on.toordinal(), deadline.day if deadline else 0,
                           deadline.known if deadline else True, a.id))
    return out


def due_json(item: DueItem) -> dict[str, object]:
    return {"action": item.action, "article": item.article, "reason": item.reason, "since": iso(item.since),
            "deadline": iso(item.deadline), "calendar_known": item.calendar_known, "ref": item.ref or None}
