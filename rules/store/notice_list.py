"""`drgate notices`: every notice owed, served or not (``--due``: not served yet), from the store."""

from __future__ import annotations

from typing import Any

from rules.calendar import WorkingCalendar, china_calendar
from rules.engine import evaluate
from rules.notices import derive_notices, notice_json
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.workflow_reads import workflow_facts

__all__ = ["format_notices", "list_notices"]


def list_notices(store: Store, profile: Profile, physician: str | None = None, *, due_only: bool = False,
                 calendar: WorkingCalendar | None = None) -> list[dict[str, Any]]:
    """The notices of every physician with a violation or a sanction (or of ``physician``), by
    (physician, owed_on, id)."""
    calendar = calendar or china_calendar()
    codes = [physician] if physician is not None else store.physicians_with_facts()
    workflow = workflow_facts(store, codes)
    rows: list[dict[str, Any]] = []
    for facts in store.physician_facts(codes):
        current = evaluate(profile, facts, calendar).record.sanctions
        for notice in derive_notices(profile, workflow[facts.code], calendar, current):
            if not (due_only and notice.served_on):
                rows.append(notice_json(notice))
    return rows


def format_notices(rows: list[dict[str, Any]]) -> list[str]:
    served = sum(1 for r in rows if r["served_on"])
    lines = [f"{len(rows)} notice(s), {served} served, {len(rows) - served} to serve",
             f"{'owed on':<10}  {'served':<10}  {'notice id':<40}  article / what"]
    for r in rows:
        appeal = f"; appeal until {r['appeal_until']}" if r["appeal_until"] else ""
        guess = " (调休 of that year unknown)" if not r["calendar_known"] else ""
        lines.append(f"{r['owed_on']:<10}  {r['served_on'] or '-':<10}  {r['id']:<40}  {r['article']}: "
                     f"{r['what']}{appeal}{guess}")
    return lines
