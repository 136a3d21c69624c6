"""`drgate rules evaluate`: per physician, a year's points, the sanctions in force and what is due.

``evaluate_store`` gives one object per physician in SPEC.md's shape::

    {"physician_code", "year", "points", "remaining",
     "sanctions": [{"action", "start", "end", "ban_until", "article", "computed"}],
     "due": [{"action", "article", "reason"}]}

``remaining`` is what is left of the year's 12 points (衢州 第十六条), ``null`` for a profile that
only adds points up (苏州 第七条).  ``sanctions`` are those in force at some time of the year,
computed ones beside explicit ones; ``end`` is ``null`` when open (a termination, or a 衢州
suspension whose restoration was not requested in time, 第二十二条).  ``due`` lists the decisions
an officer owes (苏州 第十六条).  ``format_table`` renders the same rows for a terminal.
"""

from __future__ import annotations

from typing import Any

from rules.calendar import WorkingCalendar, china_calendar
from rules.engine import YearReport, evaluate, report_for_year
from rules.model import iso
from rules.profiles import Profile
from rules.store import Store

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
    rows: list[dict[str, Any]] = []
    for facts in store.physician_facts(codes):
        report = report_for_year(profile, evaluate(profile, facts, calendar), year)
        if physician is None and not (report.points or report.sanctions or report.due):
            continue
        rows.append(report_json(facts.code, report))
    return rows


def report_json(code: str, report: YearReport) -> dict[str, Any]:
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
        "due": [{"action": d.action, "article": d.article, "reason": d.reason} for d in report.due],
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
        what += [f"DUE {d['action']} ({d['article']}): {d['reason']}" for d in row["due"]]
        head = f"{row['physician_code']:<{width}} {row['points']:>6} {left:>4}  "
        lines.append(head + (what[0] if what else "-"))
        lines.extend(" " * len(head) + more for more in what[1:])
    return lines


def _sanction_text(s: dict[str, Any]) -> str:
    ban = f", ban until {s['ban_until']}" if s["ban_until"] else ""
    origin = "computed" if s["computed"] else "explicit"
    return f"{s['action']:<18} {s['start']} → {s['end'] or 'open'}{ban}  {s['article']} ({origin})"
