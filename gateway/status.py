"""A physician's state explained, for the help desk (``GET /v1/physicians/{code}``, ``drgate status``)."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from typing import Any

from cache.reader import Snapshot
from gateway.checker import Policy
from gateway.decision import decide_line
from rules.model import Action, PhysicianRecord, iso
from rules.profiles import Profile

__all__ = ["CHINA", "explain"]

CHINA = timezone(timedelta(hours=8))  # Asia/Shanghai has no daylight saving time


def explain(code: str, record: PhysicianRecord | None, snapshot: Snapshot, on: date, institution: str | None,
            policy: Policy, profile: Profile) -> dict[str, Any]:
    n = on.toordinal()
    line = None
    if institution is not None:
        d = decide_line(record, snapshot.institutions.get(institution), institution, n, False, policy.basis)
        line = {"line_id": "-", "physician_code": code, "decision": d.decision, "reason": d.reason,
                "basis": d.basis, "until": iso(d.until), "flags": list(d.flags), "would_reject": d.would_reject}
    points = dict(record.points).get(on.year, 0) if record is not None else None
    return {
        "physician_code": code,
        "on": on.isoformat(),
        "institution_code": institution,
        "known": record is not None,
        "agreements": [{"institution_code": a.institution, "start": iso(a.start), "end": iso(a.end)}
                       for a in (record.agreements if record else ())],
        "sanctions": [{"action": s.action, "start": iso(s.start), "end": iso(s.end), "ban_until": iso(s.ban_until),
                       "article": s.article, "computed": s.computed,
                       "in_force": s.start <= n and (n < s.end or s.action == Action.TERMINATE)}
                      for s in (record.sanctions if record else ())],
        "credits": [{"level": c.level, "effective_from": iso(c.start)} for c in (record.credits if record else ())],
        "points": points,
        # 衢州 第十六条: what is left of the year's 12 points; 苏州 only adds points up (第七条).
        "remaining": max(0, profile.year_points - points) if points is not None and profile.report_remaining else None,
        "line": line,
        "snapshot": {"id": snapshot.id, "version": snapshot.version, "published_at": snapshot.published_at},
    }
