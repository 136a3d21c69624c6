"""Calendar arithmetic and 衢州 第二十二条: restoration requests in the 7 working days before the end."""

from __future__ import annotations

import pytest

from rules.calendar import (
    WorkingCalendar,
    add_months,
    add_years,
    china_calendar,
    restore_suspensions,
)
from rules.model import OPEN_END, Sanction
from tests.factories import n

WINDOW = 7  # 衢州 第二十二条 暂停期满前 7 个工作日内


def restoration_applies(filed_on: int, end: int, count: int, calendar: WorkingCalendar) -> bool:
    """Whether ``restore_suspensions`` lifts a suspension ending at ``end`` on a request filed on ``filed_on``."""
    (kept,) = restore_suspensions([Sanction("suspend", end - 60, end, ref="s1")], [filed_on], count, calendar)
    return kept.end == end


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        ("2026-01-31", 1, "2026-02-28"),  # clamps to the month end
        ("2028-01-31", 1, "2028-02-29"),  # leap year
        ("2026-03-31", 1, "2026-04-30"),
        ("2026-11-30", 3, "2027-02-28"),  # across the year and clamped
        ("2026-12-15", 1, "2027-01-15"),
        ("2026-05-10", 2, "2026-07-10"),
    ],
)
def test_add_months_clamps_to_the_month_end(start: str, months: int, end: str) -> None:
    assert add_months(n(start), months) == n(end)


@pytest.mark.parametrize(
    ("start", "years", "end"),
    [("2026-06-01", 1, "2027-06-01"), ("2028-02-29", 1, "2029-02-28"), ("2026-03-01", 5, "2031-03-01")],
)
def test_add_years_lands_on_28_february_from_a_leap_day(start: str, years: int, end: str) -> None:
    assert add_years(n(start), years) == n(end)


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        ("2026-02-13", True, "Friday before Spring Festival"),
        ("2026-02-14", True, "Saturday worked for Spring Festival (调休)"),
        ("2026-02-16", False, "Spring Festival"),
        ("2026-02-23", False, "Spring Festival day off moved from 02-28"),
        ("2026-02-24", True, "first working day after Spring Festival"),
        ("2026-02-28", True, "Saturday worked for Spring Festival (调休)"),
        ("2026-09-19", False, "ordinary Saturday"),
        ("2026-09-25", False, "Mid-Autumn Festival"),
        ("2026-09-20", True, "Sunday worked for National Day (调休)"),
        ("2026-10-01", False, "National Day"),
        ("2026-10-07", False, "National Day day off moved from 10-10"),
        ("2026-10-10", True, "Saturday worked for National Day (调休)"),
        ("2026-10-11", False, "ordinary Sunday"),
    ],
)
def test_chinese_working_days_follow_holidays_and_adjusted_weekends(
    day: str, working: bool, why: str
) -> None:
    assert china_calendar().is_working_day(n(day)) is working


@pytest.mark.parametrize(
    ("end", "days"),
    [
        # Spring Festival 2026: 02-15..02-23 off, Saturdays 02-14 and 02-28 worked.
        ("2026-03-02", ["02-13", "02-14", "02-24", "02-25", "02-26", "02-27", "02-28"]),
        # National Day 2026: 10-01..10-07 off, Saturday 10-10 worked; Mid-Autumn 09-25 off.
        ("2026-10-12", ["09-24", "09-28", "09-29", "09-30", "10-08", "10-09", "10-10"]),
        # Sunday 2026-09-20 worked (调休 for National Day).
        ("2026-09-30", ["09-20", "09-21", "09-22", "09-23", "09-24", "09-28", "09-29"]),
    ],
)
def test_window_is_the_seven_working_days_immediately_before_the_end(end: str, days: list[str]) -> None:
    found = china_calendar().working_days_before(n(end), WINDOW)
    assert found == tuple(n(f"2026-{md}") for md in days)


# 衢州 第二十二条: (end, one working day too early, first allowed day), around the holidays.
WINDOWS = [
    pytest.param("2026-03-02", "2026-02-12", "2026-02-13", id="spring-festival-ends-monday-after"),
    pytest.param("2026-02-24", "2026-02-05", "2026-02-06", id="spring-festival-ends-first-day-back"),
    pytest.param("2026-10-12", "2026-09-23", "2026-09-24", id="national-day-and-mid-autumn"),
    pytest.param("2026-09-30", "2026-09-18", "2026-09-20", id="adjusted-working-sunday"),
]


@pytest.mark.parametrize(("end", "too_early", "first_allowed"), WINDOWS)
def test_restoration_request_one_working_day_too_early_is_refused(
    end: str, too_early: str, first_allowed: str
) -> None:
    assert not restoration_applies(n(too_early), n(end), WINDOW, china_calendar())


@pytest.mark.parametrize(("end", "too_early", "first_allowed"), WINDOWS)
def test_restoration_request_on_the_first_allowed_day_is_accepted(
    end: str, too_early: str, first_allowed: str
) -> None:
    assert restoration_applies(n(first_allowed), n(end), WINDOW, china_calendar())


def test_rest_day_before_an_adjusted_working_sunday_is_still_too_early() -> None:
    assert not restoration_applies(n("2026-09-19"), n("2026-09-30"), WINDOW, china_calendar())


def test_restoration_request_filed_during_the_holiday_inside_the_window_is_accepted() -> None:
    assert restoration_applies(n("2026-02-18"), n("2026-03-02"), WINDOW, china_calendar())


def test_restoration_request_on_the_last_day_of_the_suspension_is_accepted() -> None:
    assert restoration_applies(n("2026-03-01"), n("2026-03-02"), WINDOW, china_calendar())


def test_restoration_request_on_the_end_day_is_too_late() -> None:
    assert not restoration_applies(n("2026-03-02"), n("2026-03-02"), WINDOW, china_calendar())


def suspension(start: str, end: str | None, action: str = "suspend") -> Sanction:
    return Sanction(action, n(start), n(end) if end else OPEN_END, ref="s1")


def test_suspension_with_a_request_in_its_window_lifts_at_its_end() -> None:
    kept = restore_suspensions(
        [suspension("2026-02-02", "2026-03-02")], [n("2026-02-13")], WINDOW, china_calendar()
    )
    assert kept[0].end == n("2026-03-02")


def test_suspension_without_a_request_stays_in_force_with_no_end() -> None:
    # 衢州 第二十二条: 不提出恢复履行服务协议申请的，暂停期限自动延长
    kept = restore_suspensions([suspension("2026-02-02", "2026-03-02")], [], WINDOW, china_calendar())
    assert kept[0].end == OPEN_END


def test_suspension_with_only_a_too_early_request_stays_in_force_with_no_end() -> None:
    kept = restore_suspensions(
        [suspension("2026-02-02", "2026-03-02")], [n("2026-02-12")], WINDOW, china_calendar()
    )
    assert kept[0].end == OPEN_END


def test_request_lifts_only_the_suspension_whose_window_holds_it() -> None:
    first, second = suspension("2026-02-02", "2026-03-02"), suspension("2026-09-01", "2026-10-12")
    kept = restore_suspensions([first, second], [n("2026-09-30")], WINDOW, china_calendar())
    assert [s.end for s in kept] == [OPEN_END, n("2026-10-12")]


def test_restoration_rule_off_leaves_suspensions_to_end_by_themselves() -> None:
    # 苏州 第十六条: 期限届满 ... 应当恢复其医保结算 (no request)
    kept = restore_suspensions(
        [suspension("2026-02-02", "2026-03-02", "settlement_suspend")], [], 0, china_calendar()
    )
    assert kept[0].end == n("2026-03-02")


@pytest.mark.parametrize("action", ["interview", "terminate", "settlement_suspend"])
def test_restoration_rule_touches_only_suspensions(action: str) -> None:
    kept = restore_suspensions([suspension("2026-02-02", "2026-03-02", action)], [], WINDOW, china_calendar())
    assert kept[0].end == n("2026-03-02")
