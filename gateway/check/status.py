"""A physician's state explained, for the help desk (``GET /v1/physicians/{code}``, ``drgate status``)."""

from __future__ import annotations

import logging
from datetime import date, timedelta, timezone
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from cache.snapshot_cache import Snapshot
from gateway.check.core import Policy
from gateway.check.decision import decide_line
from rules.calendar import WorkingCalendar, china_calendar
from rules.errors import RulesError
from rules.model import Action, PhysicianRecord, iso
from rules.profiles import Profile
from rules.store.explain import reasons
from rules.store.scans import Store

__all__ = ["CHINA", "explain", "store_reasons"]

log = logging.getLogger(__name__)

CHINA = timezone(timedelta(hours=8))  # Asia/Shanghai has no daylight saving time


def store_reasons(store: Store | None, profile: Profile, calendar: WorkingCalendar | None, code: str, on: date,
                  institution: str | None) -> dict[str, Any] | None:
    """``rules.store.explain`` from the store, or None when no store is configured or it cannot be read
    (the snapshot's answer stands; the help desk loses only the why)."""
    if store is None:
        return None
    try:
        return reasons(store, profile, calendar or china_calendar(), code, on, institution)
    except (SQLAlchemyError, RulesError) as exc:
        log.warning("help desk: the scoring store cannot be read (%s); answering from the snapshot only",
                    type(exc).__name__)
        return None


def explain(code: str, record: PhysicianRecord | None, snapshot: Snapshot, on: date, institution: str | None,
            policy: Policy, profile: Profile, reasons: dict[str, Any] | None = None) -> dict[str, Any]:
    """The help desk's answer; ``reasons`` (``rules.store.explain``, from the store) when it was read."""
    n = on.toordinal()
    line = None
    if institution is not None:
        d = decide_line(record, snapshot.institutions.get(institution), institution, n, False, policy.basis)
        line = {"line_id": "-", "physician_code": code, "decision": d.decision, "reason": d.reason,
                "basis": d.basis, "until": iso(d.until), "flags": list(d.flags), "would_reject": d.would_reject,
                "ban_until": iso(d.ban_until)}
    points = dict(record.points).get(on.year, 0) if record is not None else None
    return {
        "physician_code": code,
        "on": on.isoformat(),
        "institution_code": institution,
        "known": record is not None,
        "agreements": [{"institution_code": a.institution, "start": iso(a.start), "end": iso(a.end)}
                       for a in (record.agreements if record else ())],
        "sanctions": [{"action": s.action, "start": iso(s.start), "end": iso(s.end), "ban_until": iso(s.ban_until),
                       "article": s.article, "computed": s.computed, "ref": s.ref,
                       "in_force": s.start <= n and (n < s.end or s.action == Action.TERMINATE)}
                      for s in (record.sanctions if record else ())],
        "credits": [{"level": c.level, "effective_from": iso(c.start)} for c in (record.credits if record else ())],
        "points": points,
        # 衢州 第十六条: what is left of the year's 12 points; 苏州 only adds points up (第七条).
        "remaining": max(0, profile.year_points - points) if points is not None and profile.report_remaining else None,
        "line": line,
        "snapshot": {"id": snapshot.id, "version": snapshot.version, "published_at": snapshot.published_at},
        "reasons": _deciding(reasons, line),
    }


def _deciding(reasons: dict[str, Any] | None, line: dict[str, Any] | None) -> dict[str, Any] | None:
    """The institution's sanction is shown when it decides the line (衢州 第十四条), else dropped."""
    if reasons is None:
        return None
    decided_by = (line or {}).get("would_reject") or (line or {}).get("reason") or ""
    if not decided_by.startswith("institution_"):
        return {**reasons, "institution": None}
    return reasons
