"""Calendar arithmetic of the rules: months and years that clamp, Chinese working days, and the
restoration window of 衢州 第二十二条.

Days are ordinals (``date.toordinal()``), as everywhere in ``rules.model``.

Working days are China's (the ``holidays`` package): weekends and public holidays are off, the
adjusted working weekends (调休, e.g. Saturday 2026-02-14 and Sunday 2026-09-20) are on.  No
date list is kept here: the package is the source, kept current by upgrading it.  The State
Council publishes next year's schedule (国务院办公厅关于部分节假日安排的通知) around November,
often before a release of the package carries it: an operator then adds that year to the
override file (``DRGATE_CALENDAR_FILE``, ``rules.calendar_file``), which replaces the package
for the years it lists.

A year is *known* when the package carries its adjusted working days or the override file lists
it.  Past the last known year the package still knows the fixed holidays but not the 调休, so a
deadline counted there is a guess over plain weekends: ``span_known`` tells, and the calendar
remembers the unknown years its deadlines touched (``take_uncertain``) so that the sync, the
help desk and ``rules evaluate`` can say so.

The restoration window (衢州 第二十二条 "暂停期满前 7 个工作日内"): for a suspension whose
``end`` is the first day allowed again (the day it expires, "暂停期满之日"), the window is the
``n`` working days immediately before ``end``, ``end`` itself excluded, taken as the calendar
span ``[first of those n working days, end)``.  A request filed on a rest day inside that span
(the system takes uploads every day) is inside the window; one filed before the first of the
``n`` working days is too early, one filed on or after ``end`` too late.
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache

from holidays import country_holidays
from holidays.holiday_base import HolidayBase

from rules.calendar_file import YearSchedule, load_overrides
from rules.model import OPEN_END, Action, Sanction

__all__ = [
    "WorkingCalendar",
    "YearSchedule",
    "add_months",
    "add_years",
    "china_calendar",
    "package_last_year",
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


#: Used when the package's data cannot be read: the last year this drgate was checked against.
_CHECKED_THROUGH = 2026


def package_last_year() -> int:
    """The last year whose adjusted working days (调休) the ``holidays`` package carries.

    The package keeps each year's State Council schedule as that year's substituted days; a
    year after the last of them has only the fixed holidays.
    """
    from holidays.countries.china import ChinaStaticHolidays

    years = getattr(ChinaStaticHolidays, "special_public_holidays", None)
    return max(years) if isinstance(years, dict) and years else _CHECKED_THROUGH


@dataclass(frozen=True, slots=True, eq=False)
class WorkingCalendar:
    """Chinese working days (法定节假日 off, 调休 working weekends on), memoised per day.

    ``overrides`` (year → schedule) replace the package for their years; ``known_through`` is
    the package's last year with adjusted working days (``package_last_year``).
    """

    source: HolidayBase = field(default_factory=_china)
    overrides: Mapping[int, YearSchedule] = field(default_factory=dict)
    known_through: int = field(default_factory=package_last_year)
    _memo: dict[int, bool] = field(default_factory=dict, repr=False)
    _uncertain: set[int] = field(default_factory=set, repr=False)

    def is_working_day(self, day: int) -> bool:
        known = self._memo.get(day)
        if known is None:
            value = date.fromordinal(day)
            schedule = self.overrides.get(value.year)
            known = bool(schedule.is_working_day(day) if schedule else self.source.is_working_day(value))
            self._memo[day] = known
        return known

    def knows(self, year: int) -> bool:
        """Whether ``year``'s adjusted working days are known (package or override file)."""
        return year <= self.known_through or year in self.overrides

    def known_until(self) -> int:
        """The last year known without a gap from the package's years on (override years included)."""
        year = self.known_through
        while year + 1 in self.overrides:
            year += 1
        return year

    def unknown_years(self, first: int, last: int) -> tuple[int, ...]:
        """Years of the days ``[first, last]`` whose adjusted working days are not known."""
        low, high = date.fromordinal(first).year, date.fromordinal(max(first, last)).year
        return tuple(y for y in range(low, high + 1) if not self.knows(y))

    def span_known(self, first: int, last: int) -> bool:
        return not self.unknown_years(first, last)

    def take_uncertain(self) -> tuple[int, ...]:
        """Unknown years that deadlines counted since the last call fell in, ascending; resets."""
        years = tuple(sorted(self._uncertain))
        self._uncertain.clear()
        return years

    def _note(self, first: int, last: int) -> None:
        self._uncertain.update(self.unknown_years(first, last))

    def working_days_before(self, end: int, count: int) -> tuple[int, ...]:
        """The ``count`` working days immediately before ``end`` (excluded), ascending."""
        found: list[int] = []
        current = end - 1
        while len(found) < count:
            if self.is_working_day(current):
                found.append(current)
            current -= 1
        if found:
            self._note(found[-1], end - 1)
        return tuple(reversed(found))

    def add_working_days(self, start: int, count: int) -> int:
        """The ``count``-th working day after ``start`` (``start`` excluded): "N 个工作日内" ends there.

        衢州 第二十七条 "接到通知后 10 个工作日内": the deadline is the last day still in time.
        """
        current, found = start, 0
        while found < count:
            current += 1
            if self.is_working_day(current):
                found += 1
        self._note(start, current)
        return current

    def restoration_window(self, end: int, count: int, opened: int = 0) -> tuple[int, int]:
        """Half-open ``[first, last)`` in which a restoration request counts (衢州 第二十二条).

        ``[first, end)``, ``first`` the earliest of the ``count`` working days before ``end``.  A
        window that a revocation ``opened`` late (the suspension was created or changed by it)
        starts on that day and keeps its ``count`` working days, running past ``end`` if need be.
        """
        days = self.working_days_before(end, count)
        first = days[0] if days else end
        if opened <= first:
            return first, end
        # ``count`` working days from ``opened`` (included): up to the count-th after the day before.
        return opened, max(end, self.add_working_days(opened - 1, count) + 1)


@cache
def china_calendar(override_file: str | None = None) -> WorkingCalendar:
    """The process-wide calendar of ``override_file`` (``DRGATE_CALENDAR_FILE``; none: the package
    alone): built on first use, never at import."""
    if not override_file:
        return WorkingCalendar()
    return WorkingCalendar(overrides=load_overrides(override_file))


def restore_suspensions(
    sanctions: Iterable[Sanction], filed: Iterable[int], count: int, calendar: WorkingCalendar,
    opened: Mapping[str, int] | None = None,
) -> tuple[Sanction, ...]:
    """Suspensions as 衢州 第二十二条 leaves them.

    A ``suspend`` with an end date is lifted at ``end`` only if a restoration request was filed
    in its window; otherwise "暂停期限自动延长" and it stays in force with no end (``OPEN_END``).
    ``opened`` maps the ``ref`` of a suspension that a revocation created or changed to the
    revocation's day: its window opens no earlier (``WorkingCalendar.restoration_window``), and
    one whose ``end`` had come by then is lifted at ``end``: a won case leaves nobody worse off.
    ``count == 0`` (苏州: the period ends by itself, 第十六条) leaves every sanction as it is.
    Other actions are returned unchanged.
    """
    requests = sorted(set(filed))
    late = opened or {}
    kept: list[Sanction] = []
    for sanction in sanctions:
        if count > 0 and sanction.action == Action.SUSPEND and sanction.end < OPEN_END:
            # The window is counted even without a request: a window in a year the calendar does
            # not know is noted (``take_uncertain``) whether or not anyone filed yet.
            revised = late.get(sanction.ref, 0)
            if revised < sanction.end:
                first, last = calendar.restoration_window(sanction.end, count, revised)
                if not any(first <= day < last for day in requests):
                    sanction = replace(sanction, end=OPEN_END)
        kept.append(sanction)
    return tuple(kept)
