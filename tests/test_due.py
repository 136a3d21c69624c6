"""`drgate rules evaluate`'s due list: what an officer owes, each with its article and the day it
became due (衢州 第二十一条 约谈, 苏州 第十六条 听取陈述申辩, 衢州 第二十七条 appeals, notices to serve)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.cli.main import main
from rules.calendar import package_last_year
from rules.profiles import Profile, load_profile
from rules.store.importer import import_files
from rules.store.report import evaluate_store, format_table
from rules.store.scans import Store
from tests.calendars import package_only
from tests.rows import PHYSICIAN, SITE_A, Row, agreement, appeal, notice, registry, sanction, violation

QUZHOU = load_profile("quzhou-2020")
SUZHOU = load_profile("suzhou-2021-draft")
Write = Callable[[list[Row | str]], Path]
BASE = [*registry(), agreement("2025-01-01")]


def decisions(store: Store, write: Write, rows: list[Row], profile: Profile = QUZHOU, year: int = 2026
              ) -> list[tuple[str, str, str | None, str]]:
    """(action, since, deadline, article) of the due items that are not notices."""
    import_files(store, profile, [write([*BASE, *rows])], calendar=package_only())
    [row] = evaluate_store(store, profile, year, PHYSICIAN, package_only())
    return [(d["action"], d["since"], d["deadline"], d["article"]) for d in row["due"]
            if d["action"] != "serve_notice"]


# article, records in -> the officer's due items out
SCENARIOS = [
    pytest.param(QUZHOU, [violation("v1", "18.1", "2026-03-02")],
                 [("interview", "2026-03-02", None, "衢州 第二十一条")], id="quzhou-21-interview-at-6"),
    pytest.param(QUZHOU, [violation("v1", "18.1", "2026-03-02"), sanction("I-1", "interview", "2026-03-20")],
                 [], id="quzhou-21-interview-held"),
    pytest.param(QUZHOU, [violation("v1", "19.1", "2026-03-02"), violation("v2", "19.1", "2026-03-03")],
                 [], id="quzhou-21-four-points-owe-nothing"),
    pytest.param(SUZHOU, [violation("v1", "9.1", "2026-03-02"), violation("v2", "9.2", "2026-05-11")],
                 [("hearing", "2026-05-11", None, "苏州 第十六条"),
                  ("settlement_suspend", "2026-05-11", None, "苏州 第十六条")], id="suzhou-16-hearing-at-12"),
    pytest.param(SUZHOU, [violation("v1", "8.1", "2026-03-02"),
                          sanction("S-1", "settlement_suspend", "2026-04-01", "2026-07-01")],
                 [], id="suzhou-16-decided"),
    pytest.param(QUZHOU, [violation("v1", "19.1", "2026-09-28"), appeal("A-1", "v1", "2026-09-29")],
                 [("decide_appeal", "2026-09-29", "2026-11-16", "衢州 第二十七条")], id="quzhou-27-appeal-to-decide"),
    pytest.param(QUZHOU, [violation("v1", "19.1", "2026-09-28"),
                          appeal("A-1", "v1", "2026-09-29", "2026-10-09", "rejected")], [],
                 id="quzhou-27-appeal-decided"),
]


@pytest.mark.parametrize(("profile", "rows", "expected"), SCENARIOS)
def test_what_the_officer_owes(sqlite_store: Store, write_jsonl: Write, profile: Profile, rows: list[Row],
                               expected: list[tuple[str, str, str | None, str]]) -> None:
    assert decisions(sqlite_store, write_jsonl, rows, profile) == expected


def test_an_appeal_of_last_year_stays_due_until_decided(sqlite_store: Store, write_jsonl: Write) -> None:
    rows = [violation("v1", "19.1", "2026-12-10"), appeal("A-1", "v1", "2026-12-15")]
    assert decisions(sqlite_store, write_jsonl, rows, year=2027) == [
        ("decide_appeal", "2026-12-15", "2027-01-27", "衢州 第二十七条")]


def test_notices_to_serve_are_due_until_each_recipient_is_served(sqlite_store: Store, write_jsonl: Write) -> None:
    rows = [*BASE, violation("v1", "19.1", "2026-03-02"), notice(f"violation:v1@{PHYSICIAN}", "2026-03-03")]
    import_files(sqlite_store, QUZHOU, [write_jsonl(rows)], calendar=package_only())
    [row] = evaluate_store(sqlite_store, QUZHOU, 2026, PHYSICIAN, package_only())
    assert [(d["action"], d["since"], d["ref"], d["article"]) for d in row["due"]] == [
        ("serve_notice", "2026-03-02", "violation:v1", "衢州 第二十一条")]
    assert row["due"][0]["reason"].startswith(f"to {SITE_A}: 2 point(s) for item 19.1")
    import_files(sqlite_store, QUZHOU, [write_jsonl([notice(f"violation:v1@{SITE_A}", "2026-03-04",
                                                            channel="written")])])
    assert evaluate_store(sqlite_store, QUZHOU, 2026, PHYSICIAN, package_only())[0]["due"] == []


def test_the_table_marks_a_deadline_counted_over_an_unknown_year(sqlite_store: Store, write_jsonl: Write) -> None:
    import_files(sqlite_store, QUZHOU, [write_jsonl([*BASE, violation("v1", "19.1", "2026-12-10"),
                                                     appeal("A-1", "v1", "2026-12-15")])], calendar=package_only())
    rows: list[dict[str, Any]] = evaluate_store(sqlite_store, QUZHOU, 2026, PHYSICIAN, package_only())
    [appeal_due] = [d for d in rows[0]["due"] if d["action"] == "decide_appeal"]
    assert appeal_due["calendar_known"] is False
    text = "\n".join(format_table(QUZHOU, 2026, rows))
    assert "DUE decide_appeal since 2026-12-15, by 2027-01-27 (deadline over a year whose 调休" in text


@pytest.mark.skipif(package_last_year() >= 2027, reason="the holidays package now carries 2027's 调休")
def test_rules_evaluate_warns_of_windows_in_a_year_the_calendar_does_not_know(
        sqlite_store: Store, write_jsonl: Write, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRGATE_STORE_URL", sqlite_store.url)
    import_files(sqlite_store, QUZHOU, [write_jsonl([*BASE, sanction("S-1", "suspend", "2027-01-15", "2027-02-15")])])
    capsys.readouterr()
    assert main(["rules", "evaluate", "--year", "2027", "--json"]) == 0
    out, err = capsys.readouterr()
    assert orjson.loads(out)[0]["physician_code"] == PHYSICIAN
    assert "fall in 2027" in err and "DRGATE_CALENDAR_FILE" in err


def test_rules_evaluate_with_the_years_schedule_in_the_override_file_is_silent(
        sqlite_store: Store, write_jsonl: Write, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from tests.calendars import MADE_UP_2027

    schedule = tmp_path / "calendar.toml"
    schedule.write_text(MADE_UP_2027, encoding="utf-8")
    monkeypatch.setenv("DRGATE_STORE_URL", sqlite_store.url)
    monkeypatch.setenv("DRGATE_CALENDAR_FILE", str(schedule))
    import_files(sqlite_store, QUZHOU, [write_jsonl([*BASE, sanction("S-1", "suspend", "2027-01-15", "2027-02-15")])])
    capsys.readouterr()
    assert main(["rules", "evaluate", "--year", "2027", "--json"]) == 0
    assert "warning" not in capsys.readouterr().err
