"""A physician's year as the workbench shows it: every dated fact, read from the scoring store.

What the rules engine, the help desk's reasons (``rules.store.explain``) and the notices
(``rules.notices``) compute, gathered for one physician and one calendar year: the violations
with their basis documents and the running total, the bands reached, the sanctions with their
windows and articles, the restoration windows (衢州 第二十二条) and the requests filed, the
notices served or owed, the appeals and their deadlines (衢州 第二十七条), the credit ratings
(衢州 第二十三条) and the agreements per institution.  ``events`` is the same as dated marks and
spans for the timeline (``gateway.ui.timeline``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rules.appeals import decision_deadline
from rules.calendar import WorkingCalendar
from rules.engine import evaluate
from rules.model import OPEN_END, Action, PhysicianFacts, Sanction, day, iso
from rules.notices import derive_notices, notice_json
from rules.profiles import Profile
from rules.store.directory import institution_names, physician_name
from rules.store.explain import reasons
from rules.store.scans import Store
from rules.store.workflow_reads import workflow_facts

__all__ = ["Event", "YearView", "physician_year"]


@dataclass(frozen=True, slots=True)
class Event:
    """A dated fact on the timeline: a mark (``end == start``) or a span ``[start, end)``."""

    lane: str  # points | sanctions | restoration | notices | appeals | credits | agreement:<institution>
    start: int  # day ordinal
    end: int  # day ordinal, exclusive; OPEN_END: open
    kind: str  # what it is: violation, interview, suspend, terminate, window, request, owed, served, …
    label: str  # the few characters drawn beside it
    detail: str  # the whole sentence (tooltip)


@dataclass(slots=True)
class YearView:
    code: str
    name: str
    year: int
    on: date
    points: int
    remaining: int | None
    violations: list[dict[str, Any]] = field(default_factory=list)
    sanctions: list[dict[str, Any]] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    appeals: list[dict[str, Any]] = field(default_factory=list)
    credits: list[dict[str, Any]] = field(default_factory=list)
    agreements: list[dict[str, Any]] = field(default_factory=list)
    due: list[dict[str, Any]] = field(default_factory=list)
    revoked: list[dict[str, Any]] = field(default_factory=list)
    calendar_unknown_years: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @property
    def institutions(self) -> list[str]:
        """The institutions this physician has agreements at, for the line's choice."""
        return sorted({a["institution_code"] for a in self.agreements})


def physician_year(store: Store, profile: Profile, calendar: WorkingCalendar, code: str,
                   on: date) -> YearView | None:
    """The year of ``on`` for physician ``code``; None when the registry does not know the code."""
    name = physician_name(store, code)
    if name is None:
        return None
    found = list(store.physician_facts([code]))
    facts = found[0] if found else PhysicianFacts(code)
    evaluation = evaluate(profile, facts, calendar)
    why = reasons(store, profile, calendar, code, on, None) or {}
    workflow = workflow_facts(store, [code])[code]
    first, next_first = date(on.year, 1, 1).toordinal(), date(on.year + 1, 1, 1).toordinal()
    points = sum(v["points"] for v in why.get("points", []))
    view = YearView(code, name, on.year, on, points,
                    max(0, profile.year_points - points) if profile.report_remaining else None,
                    due=why.get("due", []), revoked=why.get("revoked", []),
                    calendar_unknown_years=why.get("calendar_unknown_years", []))
    _violations(view, why.get("points", []))
    _sanctions(view, profile, facts, evaluation.record.sanctions, first, next_first)
    _restoration(view, profile, calendar, facts, evaluation.record.sanctions, why.get("open_suspensions", []),
                 first, next_first)
    notices = derive_notices(profile, workflow, calendar, evaluation.record.sanctions)
    _notices(view, [notice_json(n) for n in notices], first, next_first)
    _appeals(view, profile, calendar, workflow.appeals, first, next_first)
    _credits(view, facts, next_first)
    names = institution_names(store, [a.institution for a in evaluation.record.agreements])
    _agreements(view, evaluation.record.agreements, names, first, next_first)
    return view


def _violations(view: YearView, ledger: list[dict[str, Any]]) -> None:
    total = 0
    for v in sorted(ledger, key=lambda v: (v["scored_on"], v["id"])):
        total += v["points"]
        view.violations.append({**v, "total": total})
        view.events.append(Event("points", day(date.fromisoformat(v["scored_on"])), 0, "violation",
                                 f"{v['item']} +{v['points']}",
                                 f"{v['id']}: 第 {v['item']} 项 +{v['points']} 分 (累计 {total}), {v['article']}; "
                                 f"依据 {v['basis_type']} {v['basis_no']}"))


def _in_year(s: Sanction, first: int, next_first: int) -> bool:
    last = s.ban_until if s.action == Action.TERMINATE and s.ban_until else s.end
    return s.start < next_first and last > first


def _sanctions(view: YearView, profile: Profile, facts: PhysicianFacts, sanctions: tuple[Sanction, ...],
               first: int, next_first: int) -> None:
    basis = {s.id: s.basis for s in facts.sanctions}
    for s in sorted(sanctions, key=lambda s: (s.start, s.ref)):
        if not _in_year(s, first, next_first):
            continue
        row = {"ref": s.ref, "action": s.action, "start": iso(s.start),
               "end": None if s.end >= OPEN_END else iso(s.end), "ban_until": iso(s.ban_until),
               "article": s.article, "computed": s.computed, "basis": basis.get(s.ref)}
        view.sanctions.append(row)
        end = s.ban_until if s.action == Action.TERMINATE and s.ban_until else s.end
        origin = "按积分计算" if s.computed else f"决定 {s.ref}"
        ban = f", 禁止重新签约至 {iso(s.ban_until)}" if s.ban_until else ""
        view.events.append(Event("sanctions", s.start, end if s.action != Action.INTERVIEW else s.start,
                                 s.action, _ACTION_SHORT.get(s.action, s.action),
                                 f"{_ACTION_SHORT.get(s.action, s.action)} {iso(s.start)} → "
                                 f"{row['end'] or '未定'}{ban} ({s.article}; {origin})"))


_ACTION_SHORT = {"interview": "约谈", "suspend": "暂停协议", "terminate": "解除协议", "settlement_suspend": "中止结算"}


def _restoration(view: YearView, profile: Profile, calendar: WorkingCalendar, facts: PhysicianFacts,
                 sanctions: tuple[Sanction, ...], open_ones: list[dict[str, Any]], first: int,
                 next_first: int) -> None:
    """衢州 第二十二条: the window before each suspension's end in which a request lifts it."""
    count = profile.bands.restoration_working_days
    if count <= 0:
        return
    windows = [(day(date.fromisoformat(w["window_first"])), day(date.fromisoformat(w["window_end"])),
                w["ref"], False, w["why"]) for w in open_ones]
    for s in sanctions:
        if s.action == Action.SUSPEND and s.end < OPEN_END:
            w_first, w_end = calendar.restoration_window(s.end, count)
            windows.append((w_first, w_end, s.ref, True, f"在 [{iso(w_first)}, {iso(w_end)}) 内已申请恢复, "
                            f"{iso(s.end)} 起恢复"))
    for w_first, w_end, ref, lifted, why in sorted(windows):
        if w_first >= next_first or w_end <= first:
            continue
        view.windows.append({"ref": ref, "first": iso(w_first), "end": iso(w_end), "lifted": lifted, "why": why})
        view.events.append(Event("restoration", w_first, w_end, "window" if lifted else "window-missed",
                                 "恢复申请期", f"{ref}: {why}"))
    for r in sorted(facts.restorations, key=lambda r: r.filed_on):
        n = r.filed_on.toordinal()
        if first <= n < next_first:
            view.requests.append(r.filed_on.isoformat())
            view.events.append(Event("restoration", n, n, "request", "申请", f"恢复申请 {r.filed_on.isoformat()}"))


def _notices(view: YearView, notices: list[dict[str, Any]], first: int, next_first: int) -> None:
    """The notices of the year; on the timeline one mark a day for those served, one for those owed."""
    marks: dict[tuple[int, str], list[str]] = {}
    for n in notices:
        owed = day(date.fromisoformat(str(n["owed_on"])))
        served = day(date.fromisoformat(str(n["served_on"]))) if n["served_on"] else 0
        if not (first <= owed < next_first or first <= served < next_first):
            continue
        view.notices.append(n)
        when, kind = (served, "served") if served else (owed, "owed")
        marks.setdefault((when, kind), []).append(f"{n['id']}: {n['what']} ({n['article']})")
    for (when, kind), what in sorted(marks.items()):
        label = "已送达" if kind == "served" else "待送达"
        count = f" ×{len(what)}" if len(what) > 1 else ""
        view.events.append(Event("notices", when, when, kind, label + count,
                                 f"{iso(when)} {label}: " + "; ".join(what)))


def _appeals(view: YearView, profile: Profile, calendar: WorkingCalendar, appeals: Any, first: int,
             next_first: int) -> None:
    for a in sorted(appeals, key=lambda a: (a.filed_on, a.id)):
        filed = a.filed_on.toordinal()
        deadline = decision_deadline(profile, calendar, filed)
        decided = a.decided_on.toordinal() if a.decided_on else 0
        if not (first <= filed < next_first or first <= decided < next_first):
            continue
        view.appeals.append({"id": a.id, "target_id": a.target_id, "filed_on": a.filed_on.isoformat(),
                             "deadline": iso(deadline.day) if deadline else None,
                             "calendar_known": deadline.known if deadline else True,
                             "decided_on": a.decided_on.isoformat() if a.decided_on else None,
                             "outcome": a.outcome})
        end = decided or (deadline.day + 1 if deadline else filed)
        outcome = {"upheld": "异议成立", "rejected": "异议不成立"}.get(a.outcome or "", "待决定")
        view.events.append(Event("appeals", filed, end, "appeal" if decided else "appeal-open", "异议",
                                 f"{a.id} 对 {a.target_id} 的异议, {a.filed_on.isoformat()} 提出; {outcome}"
                                 + (f", 决定期限 {iso(deadline.day)}" if deadline and not decided else "")))


def _credits(view: YearView, facts: PhysicianFacts, next_first: int) -> None:
    for c in sorted(facts.credits, key=lambda c: c.effective_from):
        n = c.effective_from.toordinal()
        if n >= next_first:
            continue
        view.credits.append({"level": c.level, "effective_from": c.effective_from.isoformat()})
        view.events.append(Event("credits", n, n, f"credit-{c.level}", c.level,
                                 f"信用等级 {c.level}, {c.effective_from.isoformat()} 起"))


def _agreements(view: YearView, agreements: Any, names: dict[str, str], first: int, next_first: int) -> None:
    for a in sorted(agreements, key=lambda a: (a.institution, a.start)):
        if a.start >= next_first or a.end <= first:
            continue
        view.agreements.append({"institution_code": a.institution, "institution_name": names.get(a.institution),
                                "start": iso(a.start), "end": None if a.end >= OPEN_END else iso(a.end)})
        view.events.append(Event(f"agreement:{a.institution}", a.start, a.end, "agreement", a.institution,
                                 f"服务协议 {a.institution} {names.get(a.institution, '')} {iso(a.start)} → "
                                 f"{'长期' if a.end >= OPEN_END else iso(a.end)}"))
