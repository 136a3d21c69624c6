"""The reasons behind a physician's state, read from the scoring store for the help desk
(``GET /v1/physicians/{code}``, ``drgate status``).  The published snapshot holds compact records
(what the decision needs); the why lives in the store:

- ``points``: the violations that make the year's points (id, item, points, basis document);
- ``open_suspensions``: why a suspension has no end (衢州 第二十二条 "no restoration request filed
  in its window [first day, end)"), with the dates and whether the calendar knows that year;
- ``revoked``: violations and sanctions annulled, and by which record (a revocation, or an upheld
  appeal, 衢州 第二十七条);
- ``institution``: the institution's own sanction and its basis (衢州 第十四条), when one is in
  force at the line's institution on the day;
- ``binding_ban``: the termination whose ban ends last among those in force (衢州 第二十一条);
- ``due``: what an officer owes for the year (``rules.due``), appeal deadlines included;
- ``calendar_unknown_years``: years whose 调休 the calendar does not know that these deadlines
  were counted over (plain weekends).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from rules.calendar import WorkingCalendar
from rules.due import due_items, due_json
from rules.engine import evaluate
from rules.ledger import entries
from rules.model import OPEN_END, Action, Sanction, day, day_or_open, iso
from rules.notices import derive_notices
from rules.profiles import Profile
from rules.sanctions import computed_sanctions
from rules.store.scans import Store
from rules.store.schema import institution_sanctions, revocations
from rules.store.workflow_reads import workflow_facts

__all__ = ["reasons"]


def reasons(store: Store, profile: Profile, calendar: WorkingCalendar, code: str, on: date,
            institution: str | None) -> dict[str, Any] | None:
    """The reasons of ``code`` on ``on``; None when the store does not know the physician."""
    found = list(store.physician_facts([code]))
    if not found:
        return None
    facts = found[0]
    evaluation = evaluate(profile, facts, calendar)
    workflow = workflow_facts(store, [code])[code]
    n = on.toordinal()
    ledger = [e for e in entries(profile, facts.violations) if e.year == on.year and e.points > 0]
    by_id = {v.id: v for v in facts.violations}
    suspensions = _open_suspensions(profile, facts, evaluation.record.sanctions, calendar)
    notices = derive_notices(profile, workflow, calendar, evaluation.record.sanctions)
    due = due_items(profile, facts, evaluation, workflow, notices, calendar, on.year)
    # From the spans themselves, not take_uncertain(): the calendar is shared by concurrent lookups.
    spans = [(day(date.fromisoformat(w["window_first"])), day(date.fromisoformat(w["window_end"])) - 1)
             for w in suspensions] + [(d.since, d.deadline) for d in due if d.deadline]
    unknown = sorted({y for first, last in spans for y in calendar.unknown_years(first, last)})
    return {
        "points": [{"id": e.violation_id, "item": e.item, "article": profile.item(e.item).article,
                    "points": e.points, "scored_on": iso(e.day), "institution_code": v.institution_code,
                    "basis_type": v.basis_type, "basis_no": v.basis_no}
                   for e in ledger for v in (by_id[e.violation_id],)],
        "open_suspensions": suspensions,
        "revoked": _revoked(store, workflow.revoked(), {v.id for v in workflow.violations}, workflow),
        "institution": _institution(store, institution, n) if institution else None,
        "binding_ban": _binding_ban(evaluation.record.sanctions, n),
        "due": [due_json(d) for d in due],
        "calendar_unknown_years": unknown,
    }


def _open_suspensions(profile: Profile, facts: Any, sanctions: tuple[Sanction, ...],
                      calendar: WorkingCalendar) -> list[dict[str, Any]]:
    """衢州 第二十二条: a suspension in force with no end, and the window its request missed."""
    count = profile.bands.restoration_working_days
    if count <= 0:
        return []
    nominal = {s.id: day_or_open(s.end) for s in facts.sanctions}
    nominal.update((s.ref, s.end) for s in computed_sanctions(profile, entries(profile, facts.violations)))
    filed = sorted(day(r.filed_on) for r in facts.restorations)
    out = []
    for s in sanctions:
        end = nominal.get(s.ref, OPEN_END)
        if s.action != Action.SUSPEND or s.end < OPEN_END or end >= OPEN_END:
            continue
        first, last = calendar.restoration_window(end, count)
        requests = [iso(f) for f in filed if f >= s.start]
        why = f"no restoration request filed in its window [{iso(first)}, {iso(last)})"
        if requests:
            why += f"; request(s) filed on {', '.join(str(r) for r in requests)} fall outside it"
        out.append({"ref": s.ref, "start": iso(s.start), "nominal_end": iso(end), "window_first": iso(first),
                    "window_end": iso(last), "why": why, "article": s.article,
                    "calendar_known": calendar.span_known(first, last)})
    return out


def _revoked(store: Store, revoked: dict[str, str], violation_ids: set[str], workflow: Any) -> list[dict[str, Any]]:
    if not revoked:
        return []
    with store.engine.connect() as conn:
        rows = {r.target_id: r for r in conn.execute(
            sa.select(revocations).where(revocations.c.target_id.in_(sorted(revoked))))}
    decided = {a.id: a for a in workflow.appeals}
    out = []
    for target, by in sorted(revoked.items()):
        record = rows.get(target)
        appeal = decided.get(by.removeprefix("appeal ")) if by.startswith("appeal ") else None
        out.append({"target_id": target, "kind": "violation" if target in violation_ids else "sanction", "by": by,
                    "on": record.revoked_on.isoformat() if record else
                    (appeal.decided_on.isoformat() if appeal and appeal.decided_on else None),
                    "reason": record.reason if record else "appeal upheld (衢州 第二十七条)"})
    return out


def _institution(store: Store, institution: str, n: int) -> dict[str, Any] | None:
    """The institution's sanction in force on the day, with its basis (衢州 第十四条)."""
    revoked = store.revoked_ids()
    on = date.fromordinal(n)
    query = sa.select(institution_sanctions).where(institution_sanctions.c.institution_code == institution,
                                                   institution_sanctions.c.start <= on)
    with store.engine.connect() as conn:
        rows = [r for r in conn.execute(query.order_by(institution_sanctions.c.start))
                if r.id not in revoked and (r.end is None or on < r.end)]
    if not rows:
        return None
    r = rows[-1]
    return {"id": r.id, "institution_code": institution, "action": r.action, "start": r.start.isoformat(),
            "end": r.end.isoformat() if r.end else None, "basis": r.basis, "article": "衢州 第十四条"}


def _binding_ban(sanctions: tuple[Sanction, ...], n: int) -> dict[str, Any] | None:
    bans = [s for s in sanctions if s.action == Action.TERMINATE and s.start <= n and s.ban_until]
    if not bans:
        return None
    s = max(bans, key=lambda s: (s.ban_until, s.ref))
    return {"ref": s.ref, "start": iso(s.start), "ban_until": iso(s.ban_until), "article": s.article,
            "computed": s.computed, "in_force": n < s.ban_until}
