"""`drgate rules evaluate`: per physician, a year's points, the sanctions in force and what is due.

``evaluate_store`` gives one object per physician, in the shape of docs/rules.md (``drgate rules evaluate
--json``)::

    {"physician_code", "year", "points", "remaining",
     "sanctions": [{"action", "start", "end", "ban_until", "article", "computed"}],
     "due": [{"action", "article", "reason", "since", "deadline", "calendar_known", "ref"}]}

``remaining`` is what is left of the year's 12 points (衢州 第十六条), ``null`` for a profile that
only adds points up (苏州 第七条).  ``sanctions`` are those in force at some time of the year,
computed ones beside explicit ones; ``end`` is ``null`` when open (a termination, or a 衢州
suspension whose restoration was not requested in time, 第二十二条).  ``due`` lists what an officer
owes (``rules.due``: interviews, hearings and settlement decisions, appeals to decide, notices to
serve), each with the day it became due and its deadline where the regulation sets one.
``format_table`` renders the same rows for a terminal.
"""

from __future__ import annotations

from typing import Any

from rules.calendar import WorkingCalendar, china_calendar
from rules.due import DueItem, due_items, due_json
from rules.engine import YearReport, evaluate, report_for_year
from rules.model import iso
from rules.notices import derive_notices
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.workflow_reads import workflow_facts

__all__ = ["evaluate_store", "format_table", "report_json"]


def evaluate_store(
    store: Store,
    profile: Profile,
    year: int,
    physician: str | None = None,
    calendar: WorkingCalendar | None = None,
) -> list[dict[str, Any]]:
    """One object per physician with points, sanctions or something due in ``year``, by code.

    With ``physician`` the object of that physician, even for a quiet year; none if the store does
    not know the code.
    """
    calendar = calendar or china_calendar()
    # Only physicians with violations or sanctions can have anything to report: the rest of a
    # registry of millions is not read.
    codes = [physician] if physician is not None else store.physicians_with_facts()
    workflow = workflow_facts(store, codes)
    rows: list[dict[str, Any]] = []
    for facts in store.physician_facts(codes):
        evaluation = evaluate(profile, facts, calendar)
        report = report_for_year(profile, evaluation, year)
        notices = derive_notices(profile, workflow[facts.code], calendar, evaluation.record.sanctions)
        due = due_items(profile, facts, evaluation, workflow[facts.code], notices, calendar, year)
        if physician is None and not (report.points or report.sanctions or due):
            continue
        rows.append(report_json(facts.code, report, due))
    return rows


def report_json(code: str, report: YearReport, due: tuple[DueItem, ...] | None = None) -> dict[str, Any]:
    """The row of one physician; ``due`` (``rules.due``) replaces the engine's decisions due."""
    due_rows = ([due_json(d) for d in due] if due is not None else
                [{"action": d.action, "article": d.article, "reason": d.reason} for d in report.due])
    return {
        "physician_code": code,
        "year": report.year,
        "points": report.points,
        "remaining": report.remaining,
        "sanctions": [
            {"action": s.action, "start": iso(s.start), "end": iso(s.end), "ban_until": iso(s.ban_until),
             "article": s.article, "computed": s.computed}
            for s in report.sanctions
        ],
        "due": due_rows,
    }


def format_table(profile: Profile, year: int, rows: list[dict[str, Any]]) -> list[str]:
    """The rows as a table: one line per sanction or due decision, the physician's on the first."""
    width = max((len(row["physician_code"]) for row in rows), default=9)
    lines = [f"{profile.city} ({profile.name}) {year}: {len(rows)} physician(s) with points, sanctions or a "
             "decision due",
             f"{'physician':<{width}} {'points':>6} {'left':>4}  sanctions in force in {year} / decisions due"]
    for row in rows:
        left = "-" if row["remaining"] is None else str(row["remaining"])
        what = [_sanction_text(s) for s in row["sanctions"]]
        what += [_due_text(d) for d in row["due"]]
        head = f"{row['physician_code']:<{width}} {row['points']:>6} {left:>4}  "
        lines.append(head + (what[0] if what else "-"))
        lines.extend(" " * len(head) + more for more in what[1:])
    return lines


def _sanction_text(s: dict[str, Any]) -> str:
    ban = f", ban until {s['ban_until']}" if s["ban_until"] else ""
    origin = "computed" if s["computed"] else "explicit"
    return f"{s['action']:<18} {s['start']} → {s['end'] or 'open'}{ban}  {s['article']} ({origin})"


def _due_text(d: dict[str, Any]) -> str:
    since = f" since {d['since']}" if d.get("since") else ""
    deadline = f", by {d['deadline']}" if d.get("deadline") else ""
    guess = " (deadline over a year whose 调休 the calendar does not know)" if not d.get("calendar_known", True) else ""
    return f"DUE {d['action']}{since}{deadline}{guess} ({d['article']}): {d['reason']}"
