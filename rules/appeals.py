"""Appeals (衢州 第二十七条): the filing and decision deadlines, in Chinese working days.

"可在接到通知后 10 个工作日内 ... 提出 ... 在接收书面申请后 30 个工作日内做出决定": the filing
deadline counts from the day the physician's notice of the decision was served, the decision
deadline from the day the appeal was filed; each is the last day still in time.  An upheld appeal
revokes its target as a revocation does (``Store._revoked``).  A profile with
``appeal_filing_working_days = 0`` (苏州) has no appeal procedure.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.calendar import WorkingCalendar
from rules.profiles import Profile

__all__ = ["Deadline", "decision_deadline", "filing_deadline", "target_notice_ids"]


@dataclass(frozen=True, slots=True)
class Deadline:
    day: int  # the last day still in time (ordinal)
    known: bool  # False: counted over a year whose 调休 the calendar does not know


def filing_deadline(profile: Profile, calendar: WorkingCalendar, served_on: int) -> Deadline | None:
    """Last day to file an appeal against a decision notified on ``served_on``; None without appeals."""
    return _after(calendar, served_on, profile.bands.appeal_filing_working_days)


def decision_deadline(profile: Profile, calendar: WorkingCalendar, filed_on: int) -> Deadline | None:
    """Last day to decide an appeal filed on ``filed_on``."""
    return _after(calendar, filed_on, profile.bands.appeal_decision_working_days)


def _after(calendar: WorkingCalendar, start: int, count: int) -> Deadline | None:
    if count <= 0:
        return None
    day = calendar.add_working_days(start, count)
    return Deadline(day, calendar.span_known(start, day))


def target_notice_ids(target_id: str, physician_code: str) -> tuple[str, str]:
    """Ids of the physician's notice of a violation or sanction: what starts the filing period."""
    return f"violation:{target_id}@{physician_code}", f"sanction:{target_id}@{physician_code}"
