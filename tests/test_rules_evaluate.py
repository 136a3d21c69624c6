"""`drgate rules evaluate`: the year's points, sanctions and due decisions, through the CLI on a real SQLite store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.cli.main import EXIT_INPUT, EXIT_OK, main
from rules.profiles import load_profile
from rules.store.importer import import_files
from rules.store.scans import Store
from tests.rows import (
    OTHER,
    PHYSICIAN,
    Row,
    agreement,
    registry,
    restoration,
    revocation,
    sanction,
    violation,
)

Write = Callable[[list[Row | str]], Path]
Run = Callable[..., tuple[int, Any, str]]


@pytest.fixture(name="evaluate")
def fix_evaluate(sqlite_store: Store, write_jsonl: Write, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """``evaluate(profile, rows)`` imports rows, then returns a runner of `drgate rules evaluate ARGS`."""

    def load(profile: str, rows: list[Row | str]) -> Run:
        monkeypatch.setenv("DRGATE_STORE_URL", sqlite_store.url)
        monkeypatch.setenv("DRGATE_PROFILE", profile)
        import_files(sqlite_store, load_profile(profile), [write_jsonl(rows)])

        def run(*args: str) -> tuple[int, Any, str]:
            capsys.readouterr()
            code = main(["rules", "evaluate", *args])
            out, err = capsys.readouterr()
            return code, (orjson.loads(out) if "--json" in args and code == EXIT_OK else out), err

        return run

    return load


SIX_SIX = [violation("v1", "18.1", "2026-03-02"), violation("v2", "18.2", "2026-05-11")]


def test_quzhou_twelve_points_report_interview_and_termination_with_its_ban(evaluate: Callable[..., Run]) -> None:
    run = evaluate("quzhou-2020", [*registry(), agreement("2025-01-01"), *SIX_SIX])
    code, rows, _ = run("--year", "2026", "--json")
    assert code == EXIT_OK
    assert rows == [{
        "physician_code": PHYSICIAN, "year": 2026, "points": 12, "remaining": 0,
        "sanctions": [
            {"action": "interview", "start": "2026-03-02", "end": "2027-01-01", "ban_until": None,
             "article": "衢州 第二十一条", "computed": True},
            {"action": "terminate", "start": "2026-05-11", "end": None, "ban_until": "2027-05-11",
             "article": "衢州 第二十一条", "computed": True},
        ],
        "due": rows[0]["due"],
    }]
    # 衢州 第二十一条: the interview owed at 6 points, and a notice of each violation and band.
    assert [(d["action"], d["since"], d["ref"]) for d in rows[0]["due"]] == [
        ("interview", "2026-03-02", "auto:2026:interview"),
        ("serve_notice", "2026-03-02", "band:auto:2026:interview"),
        ("serve_notice", "2026-03-02", "violation:v1"),
        ("serve_notice", "2026-05-11", "band:auto:2026:terminate"),
        ("serve_notice", "2026-05-11", "violation:v2"),
    ]


def test_quzhou_suspension_without_restoration_request_is_reported_open_ended(evaluate: Callable[..., Run]) -> None:
    run = evaluate("quzhou-2020", [*registry(), violation("v1", "18.1", "2026-03-02"),
                                   violation("v2", "19.1", "2026-04-01"), violation("v3", "20.1", "2026-04-07")])
    _, (row,), _ = run("--year", "2026", "--json")
    assert row["points"] == 9 and row["remaining"] == 3
    assert [(s["action"], s["start"], s["end"]) for s in row["sanctions"]] == [
        ("interview", "2026-03-02", "2027-01-01"), ("suspend", "2026-04-07", None)]


def test_quzhou_suspension_with_restoration_request_in_its_window_is_reported_with_its_end(
    evaluate: Callable[..., Run],
) -> None:
    # 9 points on 2026-04-07: suspended one month, to 2026-05-07; a request on 2026-04-30 is inside the
    # 7 working days before (第二十二条).
    run = evaluate("quzhou-2020", [*registry(), violation("v1", "18.1", "2026-03-02"),
                                   violation("v2", "19.1", "2026-04-01"), violation("v3", "20.1", "2026-04-07"),
                                   restoration("2026-04-30")])
    _, (row,), _ = run("--year", "2026", "--json")
    assert ("suspend", "2026-04-07", "2026-05-07") in [(s["action"], s["start"], s["end"]) for s in row["sanctions"]]


def test_quzhou_revoked_violation_does_not_count(evaluate: Callable[..., Run]) -> None:
    run = evaluate("quzhou-2020", [*registry(), *SIX_SIX, revocation("v2", "2026-06-01")])
    _, (row,), _ = run("--year", "2026", "--json")
    assert row["points"] == 6
    assert [s["action"] for s in row["sanctions"]] == ["interview"]


def test_open_suspension_of_last_year_is_reported_in_a_year_without_points(evaluate: Callable[..., Run]) -> None:
    run = evaluate("quzhou-2020", [*registry(), violation("v1", "18.1", "2025-03-02"),
                                   violation("v2", "19.1", "2025-04-01"), violation("v3", "20.1", "2025-04-07")])
    _, (row,), _ = run("--year", "2026", "--json")
    assert (row["points"], row["remaining"]) == (0, 12)
    assert [(s["action"], s["start"], s["end"]) for s in row["sanctions"]] == [("suspend", "2025-04-07", None)]


def test_physicians_with_nothing_in_the_year_are_left_out(evaluate: Callable[..., Run]) -> None:
    run = evaluate("quzhou-2020", [*registry(PHYSICIAN, OTHER), violation("v1", "20.1", "2025-03-02"),
                                   violation("v2", "20.1", "2026-03-02", code=OTHER)])
    _, rows, _ = run("--year", "2026", "--json")
    assert [(r["physician_code"], r["points"]) for r in rows] == [(OTHER, 1)]


def test_named_physician_is_reported_even_in_a_quiet_year(evaluate: Callable[..., Run]) -> None:
    run = evaluate("quzhou-2020", [*registry(), agreement("2025-01-01")])
    _, rows, _ = run("--year", "2026", "--physician", PHYSICIAN, "--json")
    assert rows == [{"physician_code": PHYSICIAN, "year": 2026, "points": 0, "remaining": 12,
                     "sanctions": [], "due": []}]


def test_unknown_physician_exits_2_naming_it(evaluate: Callable[..., Run]) -> None:
    run = evaluate("quzhou-2020", registry())
    code, _, err = run("--physician", "D999", "--json")
    assert code == EXIT_INPUT and "D999" in err


def test_suzhou_twelve_points_are_due_for_a_decision_and_have_no_remaining(evaluate: Callable[..., Run]) -> None:
    run = evaluate("suzhou-2021-draft", [*registry(), violation("v1", "9.1", "2026-03-02"),
                                         violation("v2", "9.2", "2026-05-11")])
    _, (row,), _ = run("--year", "2026", "--json")
    assert (row["points"], row["remaining"], row["sanctions"]) == (12, None, [])
    decisions = [d for d in row["due"] if d["action"] != "serve_notice"]
    assert [(d["action"], d["article"], d["since"]) for d in decisions] == [
        ("hearing", "苏州 第十六条", "2026-05-11"), ("settlement_suspend", "苏州 第十六条", "2026-05-11")]
    assert "2026-05-11" in decisions[1]["reason"]


def test_suzhou_explicit_settlement_suspension_settles_the_due_decision(evaluate: Callable[..., Run]) -> None:
    run = evaluate("suzhou-2021-draft", [*registry(), violation("v1", "8.1", "2026-03-02"),
                                         sanction("s1", "settlement_suspend", "2026-04-01", "2026-07-01")])
    _, (row,), _ = run("--year", "2026", "--json")
    assert [d for d in row["due"] if d["action"] != "serve_notice"] == []
    assert row["sanctions"] == [{"action": "settlement_suspend", "start": "2026-04-01", "end": "2026-07-01",
                                 "ban_until": None, "article": "苏州 第十六条", "computed": False}]


def test_table_on_a_terminal_names_each_sanction_with_its_article(evaluate: Callable[..., Run]) -> None:
    run = evaluate("quzhou-2020", [*registry(), *SIX_SIX])
    code, out, _ = run("--year", "2026")
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[0].startswith("衢州 (quzhou-2020) 2026: 1 physician(s)")
    (first,) = [line for line in lines if line.startswith(PHYSICIAN)]
    assert first.split()[1:3] == ["12", "0"] and "interview" in first
    assert any("terminate" in line and "ban until 2027-05-11" in line and "衢州 第二十一条 (computed)" in line
               for line in lines)


def test_table_of_suzhou_shows_the_due_decision(evaluate: Callable[..., Run]) -> None:
    run = evaluate("suzhou-2021-draft", [*registry(), violation("v1", "8.1", "2026-03-02")])
    _, out, _ = run("--year", "2026")
    assert "DUE settlement_suspend since 2026-03-02 (苏州 第十六条)" in out
