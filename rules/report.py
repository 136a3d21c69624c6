"""`drgate rules evaluate`: per physician, the year's points, sanctions and what is due (SPEC.md shape)."""

from __future__ import annotations

from typing import Any

from rules.engine import evaluate
from rules.model import iso
from rules.profiles import Profile
from rules.store import Store

__all__ = ["evaluate_store"]


def evaluate_store(store: Store, profile: Profile, year: int, physician: str | None = None,
                   calendar: object | None = None) -> list[dict[str, Any]]:
    """One object per physician with points, sanctions or something due in ``year``."""
    codes = None if physician is None else [physician]
    rows: list[dict[str, Any]] = []
    for facts in store.physician_facts(codes):
        if physician is None and not (facts.violations or facts.sanctions):
            continue  # nothing to report: the common case at scale
        ev = evaluate(profile, facts, calendar)
        report = next((y for y in ev.years if y.year == year), None)
        points = report.points if report else 0
        sanctions = list(report.sanctions) if report else [
            s for s in ev.record.sanctions if _year_of(s.start) == year
        ]
        due = list(report.due) if report else []
        if physician is None and not (points or sanctions or due):
            continue
        rows.append({
            "physician_code": facts.code,
            "year": year,
            "points": points,
            "remaining": max(0, profile.year_points - points) if profile.auto_sanctions else None,
            "sanctions": [{"action": s.action, "start": iso(s.start), "end": iso(s.end),
                           "ban_until": iso(s.ban_until), "article": s.article, "computed": s.computed}
                          for s in sanctions],
            "due": [{"action": d.action, "article": d.article, "reason": d.reason} for d in due],
        })
    return rows


def _year_of(day: int) -> int:
    from datetime import date

    return date.fromordinal(day).year
