"""The calendar override file (``DRGATE_CALENDAR_FILE``): a year's schedule from the State Council.

The State Council's notice on next year's holidays (国务院办公厅关于 YYYY 年部分节假日安排的通知)
comes out around November, often before a release of the ``holidays`` package carries it.  An
operator copies it into a TOML file, one table per year::

    [2027]
    notice = "国办发明电〔2026〕N号"
    days_off = ["2027-01-01", "2027-02-05", ...]   # 放假: every day off the notice names
    working_days = ["2027-02-20"]                  # 调休上班: the weekend days worked

A year in the file replaces the package for that year: its working days are the weekdays not in
``days_off``, plus ``working_days``.  Empty or unset: the package alone.  Every mistake (a day
outside its year, a day in both lists, a working day that is not a weekend) is refused with the
file, the year and the key, at start: a wrong calendar would shift deadlines silently.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rules.errors import CalendarError

__all__ = ["load_overrides", "parse_overrides"]


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One year of the State Council's notice, from the override file: it replaces the package."""

    year: int
    days_off: frozenset[int]  # 放假: every day off the notice names
    working_days: frozenset[int]  # 调休上班: weekend days worked
    notice: str = ""  # the notice's number, e.g. 国办发明电〔2026〕N号

    def is_working_day(self, day: int) -> bool:
        if day in self.working_days:
            return True
        return day not in self.days_off and date.fromordinal(day).weekday() < 5


def load_overrides(path: str) -> dict[int, YearSchedule]:
    """The schedules of the file at ``path``, by year; ``CalendarError`` naming what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarError(f"calendar override file {path}: {exc.strerror or exc}") from None
    return parse_overrides(text, path)


def parse_overrides(text: str, name: str) -> dict[int, YearSchedule]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"calendar override file {name}: not TOML: {exc}") from None
    schedules: dict[int, YearSchedule] = {}
    for key, table in raw.items():
        where = f"calendar override file {name}: [{key}]"
        if not (key.isdigit() and len(key) == 4) or not isinstance(table, dict):
            raise CalendarError(f"{where}: each table is a year, e.g. [2027]")
        year = int(key)
        unknown = set(table) - {"notice", "days_off", "working_days"}
        if unknown:
            raise CalendarError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                                "expected notice, days_off, working_days")
        off = _days(table.get("days_off", []), year, f"{where} days_off")
        worked = _days(table.get("working_days", []), year, f"{where} working_days")
        both = off & worked
        if both:
            raise CalendarError(f"{where}: {_iso(min(both))} is in both days_off and working_days")
        weekday = next((d for d in sorted(worked) if date.fromordinal(d).weekday() < 5), None)
        if weekday is not None:
            raise CalendarError(f"{where} working_days: {_iso(weekday)} is a weekday (调休 working days are "
                                "the weekend days worked)")
        schedules[year] = YearSchedule(year, frozenset(off), frozenset(worked), str(table.get("notice", "")))
    return schedules


def _days(values: Any, year: int, where: str) -> set[int]:
    if not isinstance(values, list):
        raise CalendarError(f"{where}: must be a list of YYYY-MM-DD dates")
    days: set[int] = set()
    for value in values:
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            raise CalendarError(f"{where}: {value!r} is not a date as YYYY-MM-DD") from None
        if day.year != year:
            raise CalendarError(f"{where}: {day.isoformat()} is not in {year}")
        days.add(day.toordinal())
    return days


def _iso(day: int) -> str:
    return date.fromordinal(day).isoformat()
