"""The calendar override file (DRGATE_CALENDAR_FILE) and years the calendar does not fully know.

The ``holidays`` package carries 2026's adjusted working days (调休) but not 2027's: nobody here
knows them, so the 2027 schedule below is MADE UP for the tests (not the State Council's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cache.sync import Syncer
from gateway.observe.metrics import write_sync_metrics
from rules.calendar import package_last_year, restore_suspensions
from rules.calendar_file import load_overrides, parse_overrides
from rules.errors import CalendarError
from rules.model import OPEN_END, Sanction
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store
from tests.calendars import package_only, with_override
from tests.factories import n
from tests.rows import agreement, registry, sanction

WINDOW = 7  # 衢州 第二十二条 暂停期满前 7 个工作日内

def test_the_package_carries_2026s_adjusted_working_days() -> None:
    assert package_last_year() >= 2026


@pytest.mark.parametrize(
    ("day", "package", "override", "why"),
    [
        ("2027-01-01", False, False, "New Year's Day, in both"),
        ("2027-01-04", True, False, "a Monday the made-up notice gives off"),
        ("2027-01-09", False, True, "a Saturday the made-up notice makes a working day (调休)"),
        ("2027-02-11", True, False, "a Thursday of the made-up Spring Festival span"),
        ("2027-02-13", False, True, "a Saturday worked for the made-up Spring Festival"),
        ("2027-03-01", True, True, "an ordinary Monday"),
        ("2027-03-06", False, False, "an ordinary Saturday"),
        ("2026-09-20", True, True, "2026 stays the package's: Sunday worked for National Day"),
    ],
)
def test_an_override_year_replaces_the_package_for_that_year(day: str, package: bool, override: bool,
                                                             why: str) -> None:
    assert package_only().is_working_day(n(day)) is package
    assert with_override().is_working_day(n(day)) is override


# 衢州 第二十二条 around the holidays: (end, first day of the window: package only, with the made-up
# 2027; whether the package alone knows the window's years).
WINDOWS = [
    pytest.param("2026-10-12", "2026-09-24", "2026-09-24", True, id="national-day-2026"),
    pytest.param("2026-12-31", "2026-12-22", "2026-12-22", True, id="year-end-2026"),
    pytest.param("2027-01-05", "2026-12-24", "2026-12-23", False, id="new-year-2027"),
    pytest.param("2027-02-15", "2027-01-29", "2027-01-28", False, id="spring-festival-2027"),
]


@pytest.mark.parametrize(("end", "package_first", "override_first", "known"), WINDOWS)
def test_restoration_window_around_the_holidays(end: str, package_first: str, override_first: str,
                                                known: bool) -> None:
    assert package_only().restoration_window(n(end), WINDOW) == (n(package_first), n(end))
    assert with_override().restoration_window(n(end), WINDOW) == (n(override_first), n(end))


@pytest.mark.parametrize(("end", "package_first", "override_first", "known"), WINDOWS)
def test_a_window_in_a_year_without_its_adjusted_working_days_is_noted(end: str, package_first: str,
                                                                       override_first: str, known: bool) -> None:
    calendar = package_only()
    calendar.restoration_window(n(end), WINDOW)
    assert calendar.take_uncertain() == (() if known else (2027,))
    assert calendar.take_uncertain() == ()  # taken once


@pytest.mark.parametrize(("end", "package_first", "override_first", "known"), WINDOWS)
def test_an_override_year_is_known(end: str, package_first: str, override_first: str, known: bool) -> None:
    calendar = with_override()
    calendar.restoration_window(n(end), WINDOW)
    assert calendar.take_uncertain() == ()
    assert calendar.known_until() == 2027


def test_a_suspension_without_any_request_still_notes_its_windows_year() -> None:
    calendar = package_only()
    kept = restore_suspensions([Sanction("suspend", n("2027-01-15"), n("2027-02-15"), ref="s1")], [], WINDOW,
                               calendar)
    assert kept[0].end == OPEN_END
    assert calendar.take_uncertain() == (2027,)


def test_request_on_the_first_day_of_the_override_window_lifts_the_suspension() -> None:
    suspension = Sanction("suspend", n("2027-01-15"), n("2027-02-15"), ref="s1")
    filed = [n("2027-01-28")]
    assert restore_suspensions([suspension], filed, WINDOW, with_override())[0].end == n("2027-02-15")
    assert restore_suspensions([suspension], filed, WINDOW, package_only())[0].end == OPEN_END


def test_appeal_style_deadline_counts_working_days_after() -> None:
    # 10 working days after 2026-09-29: 09-30, 10-08, 10-09, Saturday 10-10 (调休), 10-12 … 10-16, 10-19.
    assert package_only().add_working_days(n("2026-09-29"), 10) == n("2026-10-19")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[2027]\ndays_off = ["2026-12-31"]', r"\[2027\] days_off: 2026-12-31 is not in 2027"),
        ('[2027]\ndays_off = ["2027-02-13"]\nworking_days = ["2027-02-13"]', "in both days_off and working_days"),
        ('[2027]\nworking_days = ["2027-02-10"]', "2027-02-10 is a weekday"),
        ('[2027]\nholidays = ["2027-02-10"]', "unknown key"),
        ('[next]\ndays_off = []', "each table is a year"),
        ('[2027]\ndays_off = ["2027-02-30"]', "is not a date"),
        ("[2027", "not TOML"),
    ],
)
def test_a_malformed_override_file_is_refused_naming_the_year_and_key(text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        parse_overrides(text, "cal.toml")


def test_a_missing_override_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="nowhere.toml"):
        load_overrides(str(tmp_path / "nowhere.toml"))


def test_an_empty_override_file_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "cal.toml"
    path.write_text("", encoding="utf-8")
    assert load_overrides(str(path)) == {}


def test_sync_says_which_years_its_deadlines_fell_in_unknown(store: Store, profile: Profile, redis: Any,
                                                             keys: Any, write_jsonl: Any, tmp_path: Path) -> None:
    import_files(store, profile, [write_jsonl([*registry(), agreement("2026-01-01"),
                                               sanction("S-1", "suspend", "2027-01-15", "2027-02-15")])])
    result = Syncer(redis, keys, store, profile, package_only(), grace_seconds=2).full()
    assert result.calendar_unknown_years == (2027,)
    metrics = tmp_path / "sync.prom"
    write_sync_metrics(metrics, "ok", 0, 0.1, result)
    text = metrics.read_text()
    assert 'drgate_sync_deadlines_in_unknown_calendar_year{year="2027"} 1.0' in text
    assert "drgate_calendar_known_through_year 2026.0" in text
    known = Syncer(redis, keys, store, profile, with_override(), grace_seconds=2).full()
    assert known.calendar_unknown_years == ()
    assert known.calendar_known_through == 2027


def test_a_malformed_override_file_stops_a_command_with_exit_2_naming_it(
        sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli.main import EXIT_INPUT, main
    from rules.calendar import china_calendar

    bad = tmp_path / "calendar.toml"
    bad.write_text('[2027]\nworking_days = ["2027-02-10"]\n', encoding="utf-8")
    monkeypatch.setenv("DRGATE_STORE_URL", sqlite_store.url)
    monkeypatch.setenv("DRGATE_CALENDAR_FILE", str(bad))
    china_calendar.cache_clear()
    assert main(["rules", "evaluate", "--year", "2027"]) == EXIT_INPUT
    assert "calendar.toml: [2027] working_days: 2027-02-10 is a weekday" in capsys.readouterr().err
