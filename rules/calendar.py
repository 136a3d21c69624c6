"""Calendar arithmetic of the rules: months and years that clamp, Chinese working days, and the
restoration window of 衢州 第二十二条.

Days are ordinals (``date.toordinal()``), as everywhere in ``rules.model``.

Working days are China's (the ``holidays`` package): weekends and public holidays are off, the
adjusted working weekends (调休, e.g. Saturday 2026-02-14 and Sunday 2026-09-20) are on.  No
date list is kept here: the package is the source, kept current by upgrading it.

The restoration window (衢州 第二十二条 "暂停期满前 7 个工作日内"): for a suspension whose
``end`` is the first day allowed again (the day it expires, "暂停期满之日"), the window is the
``n`` working days immediately before ``end``, ``end`` itself excluded, taken as the calendar
span ``[first of those n working days, end)``.  A request filed on a rest day inside that span
(the system takes uploads every day) is inside the window; one filed before the first of the
``n`` working days is too early, one filed on or after ``end`` too late.
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache

from holidays import country_holidays
from holidays.holiday_base import HolidayBase

from rules.model import OPEN_END, Action, Sanction

__all__ = [
    "WorkingCalendar",
    "add_months",
    "add_years",
    "china_calendar",
    "restoration_applies",
    "restore_suspensions",
]


def add_months(day: int, months: int) -> int:
    """``day`` plus ``months`` calendar months, clamped to the month end (31 Jan + 1 = 28/29 Feb)."""
    start = date.fromordinal(day)
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    last = _gregorian.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last)).toordinal()


def add_years(day: int, years: int) -> int:
    """``day`` plus ``years`` years; 29 Feb lands on 28 Feb in a common year."""
    return add_months(day, 12 * years)


def _china() -> HolidayBase:
    # Years are filled in lazily, as days are asked for.
    return country_holidays("CN")


@dataclass(frozen=True, slots=True, eq=False)
class WorkingCalendar:
    """Chinese working days (法定节假日 off, 调休 working weekends on), memoised per day."""

    source: HolidayBase = field(default_factory=_china)
    _memo: dict[int, bool] = field(default_factory=dict, repr=False)

    def is_working_day(self, day: int) -> bool:
        known = self._memo.get(day)
        if known is None:
            known = bool(self.source.is_working_day(date.fromordinal(day)))
            self._memo[day] = known
        return known

    def working_days_before(self, end: int, count: int) -> tuple[int, ...]:
        """The ``count`` working days immediately before ``end`` (excluded), ascending."""
        found: list[int] = []
        current = end - 1
        while len(found) < count:
            if self.is_working_day(current):
                found.append(current)
            current -= 1
        return tuple(reversed(found))

    def restoration_window(self, end: int, count: int) -> tuple[int, int]:
        """Half-open ``[first, end)`` in which a restoration request counts (衢州 第二十二条)."""
        days = self.working_days_before(end, count)
        return (days[0] if days else end), end


@cache
def china_calendar() -> WorkingCalendar:
    """The process-wide calendar: built on first use, never at import."""
    return WorkingCalendar()


def restoration_applies(filed_on: int, end: int, count: int, calendar: WorkingCalendar) -> bool:
    """Whether a request filed on ``filed_on`` lifts a suspension ending at ``end``."""
    first, last = calendar.restoration_window(end, count)
    return first <= filed_on < last


def restore_suspensions(
    sanctions: Iterable[Sanction], filed: Iterable[int], count: int, calendar: WorkingCalendar
) -> tuple[Sanction, ...]:
    """Suspensions as 衢州 第二十二条 leaves them.

    A ``suspend`` with an end date is lifted at ``end`` only if a restoration request was filed
    in its window; otherwise "暂停期限自动延长" and it stays in force with no end (``OPEN_END``).
    ``count == 0`` (苏州: the period ends by itself, 第十六条) leaves every sanction as it is.
    Other actions are returned unchanged.
    """
    requests = sorted(set(filed))
    kept: list[Sanction] = []
    for sanction in sanctions:
        if (
            count > 0
            and sanction.action == Action.SUSPEND
            and sanction.end < OPEN_END
            and not any(restoration_applies(day, sanction.end, count, calendar) for day in requests)
        ):
            sanction = replace(sanction, end=OPEN_END)
        kept.append(sanction)
    return tuple(kept)
