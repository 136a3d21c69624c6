"""衢州 第二十七条: appeals filed within 10 working days of the served notice, decided within 30 of
filing; an upheld appeal revokes its target.  Deadlines around National Day 2026, New Year 2027 and
Spring Festival 2027; 2027's adjusted working days are unknown (the made-up schedule of
``test_calendar_overrides`` stands in for the State Council's)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rules.calendar import WorkingCalendar
from rules.errors import ImportFileError
from rules.profiles import load_profile
from rules.store.importer import import_files
from rules.store.report import evaluate_store
from rules.store.scans import Store
from tests.calendars import package_only, with_override
from tests.rows import PHYSICIAN, SITE_A, Row, agreement, appeal, notice, registry, violation

QUZHOU = load_profile("quzhou-2020")
SUZHOU = load_profile("suzhou-2021-draft")
Write = Callable[[list[Row | str]], Path]
NOTICE = f"violation:v1@{PHYSICIAN}"


def scored(on: str, item: str = "19.1") -> list[Row]:
    return [*registry(), agreement("2025-01-01"), violation("v1", item, on)]


def load(store: Store, write: Write, rows: list[Row], calendar: WorkingCalendar | None = None,
         profile: Any = QUZHOU) -> None:
    import_files(store, profile, [write(rows)], calendar=calendar or package_only())


def due(store: Store, year: int, calendar: WorkingCalendar | None = None, action: str = "decide_appeal"
        ) -> list[dict[str, Any]]:
    rows = evaluate_store(store, QUZHOU, year, PHYSICIAN, calendar or package_only())
    return [d for d in rows[0]["due"] if d["action"] == action]


# (served on, last day to file, package only / made-up 2027, is the deadline's year known)
FILING = [
    pytest.param("2026-09-29", "2026-10-19", "2026-10-19", True, id="national-day-2026"),
    pytest.param("2026-12-24", "2027-01-08", "2027-01-09", False, id="new-year-2027"),
    pytest.param("2027-01-29", "2027-02-18", "2027-02-19", False, id="spring-festival-2027"),
]


@pytest.mark.parametrize(("served", "package_last", "override_last", "known"), FILING)
def test_appeal_on_the_last_day_is_accepted(sqlite_store: Store, write_jsonl: Write, served: str,
                                            package_last: str, override_last: str, known: bool) -> None:
    load(sqlite_store, write_jsonl, [*scored("2026-09-28"), notice(NOTICE, served),
                                     appeal("A-1", "v1", override_last)], with_override())
    assert due(sqlite_store, 2027, with_override())[0]["ref"] == "A-1"


@pytest.mark.parametrize(("served", "package_last", "override_last", "known"), FILING)
def test_appeal_a_day_late_is_refused_naming_the_deadline(sqlite_store: Store, write_jsonl: Write, served: str,
                                                          package_last: str, override_last: str,
                                                          known: bool) -> None:
    from datetime import date, timedelta

    late = (date.fromisoformat(override_last) + timedelta(days=1)).isoformat()
    with pytest.raises(ImportFileError) as refused:
        load(sqlite_store, write_jsonl, [*scored("2026-09-28"), notice(NOTICE, served), appeal("A-1", "v1", late)],
             with_override())
    [problem] = refused.value.problems
    assert problem.field == "filed_on" and problem.line == 7
    assert f"after the deadline {override_last}" in problem.message and "衢州 第二十七条" in problem.message


@pytest.mark.parametrize(("served", "package_last", "override_last", "known"), FILING)
def test_a_deadline_in_a_year_the_calendar_does_not_know_is_not_enforced(
        sqlite_store: Store, write_jsonl: Write, served: str, package_last: str, override_last: str,
        known: bool) -> None:
    from datetime import date, timedelta

    late = (date.fromisoformat(package_last) + timedelta(days=1)).isoformat()
    rows = [*scored("2026-09-28"), notice(NOTICE, served), appeal("A-1", "v1", late)]
    if known:
        with pytest.raises(ImportFileError):
            load(sqlite_store, write_jsonl, rows)
    else:
        load(sqlite_store, write_jsonl, rows)  # counted over plain weekends: it could be wrong
        assert [d["ref"] for d in due(sqlite_store, 2027)] == ["A-1"]


def test_appeal_before_any_notice_was_served_is_accepted(sqlite_store: Store, write_jsonl: Write) -> None:
    load(sqlite_store, write_jsonl, [*scored("2026-09-28"), appeal("A-1", "v1", "2026-12-30")])
    assert [d["ref"] for d in due(sqlite_store, 2026)] == ["A-1"]


# (filed on, decision due by, is the deadline's year known): 30 working days (衢州 第二十七条)
DECISION = [
    pytest.param("2026-09-29", "2026-11-16", True, id="across-national-day-2026"),
    pytest.param("2026-12-15", "2027-01-27", False, id="across-new-year-2027"),
    pytest.param("2027-01-20", "2027-03-09", False, id="across-spring-festival-2027"),
]


@pytest.mark.parametrize(("filed", "by", "known"), DECISION)
def test_undecided_appeal_is_due_with_its_deadline_and_whether_the_calendar_knows_it(
        sqlite_store: Store, write_jsonl: Write, filed: str, by: str, known: bool) -> None:
    load(sqlite_store, write_jsonl, [*scored("2026-09-28"), appeal("A-1", "v1", filed)])
    [item] = due(sqlite_store, 2027)
    assert (item["since"], item["deadline"], item["calendar_known"], item["article"]) == (
        filed, by, known, "衢州 第二十七条")


def test_a_decided_appeal_is_no_longer_due(sqlite_store: Store, write_jsonl: Write) -> None:
    load(sqlite_store, write_jsonl, [*scored("2026-09-28"), appeal("A-1", "v1", "2026-09-29", "2026-10-20",
                                                                   "rejected")])
    assert due(sqlite_store, 2026) == []


def test_an_upheld_appeal_revokes_its_target_like_a_revocation(store: Store, write_jsonl: Write) -> None:
    rows = [*registry(), agreement("2025-01-01"), violation("v1", "18.1", "2026-09-01"),
            violation("v2", "19.1", "2026-09-10"), violation("v3", "19.1", "2026-09-20")]
    load(store, write_jsonl, rows)
    before = evaluate_store(store, QUZHOU, 2026, PHYSICIAN, package_only())[0]
    assert (before["points"], [s["action"] for s in before["sanctions"]][-1]) == (10, "suspend")
    load(store, write_jsonl, [appeal("A-1", "v1", "2026-09-25", "2026-10-20", "upheld")])
    after = evaluate_store(store, QUZHOU, 2026, PHYSICIAN, package_only())[0]
    assert (after["points"], after["sanctions"]) == (4, [])


def test_an_appeal_carries_its_targets_physician(sqlite_store: Store, write_jsonl: Write) -> None:
    with pytest.raises(ImportFileError) as refused:
        load(sqlite_store, write_jsonl, [*scored("2026-09-28"), {**appeal("A-1", "v1", "2026-09-29"),
                                                                 "physician_code": "D9"}])
    assert [(p.field, p.line) for p in refused.value.problems] == [("physician_code", 6)]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (appeal("A-1", "nothing", "2026-09-29"), "target_id"),
        (appeal("A-1", "v1", "2026-09-29", "2026-10-01"), "outcome"),
        (appeal("A-1", "v1", "2026-09-29", None, "upheld"), "outcome"),
        (appeal("A-1", "v1", "2026-09-29", "2026-09-28", "upheld"), "decided_on"),
        ({**appeal("A-1", "v1", "2026-09-29"), "outcome": "granted"}, "outcome"),
    ],
)
def test_bad_appeal_lines_are_refused_naming_the_field(sqlite_store: Store, write_jsonl: Write, row: Row,
                                                       field: str) -> None:
    with pytest.raises(ImportFileError) as refused:
        load(sqlite_store, write_jsonl, [*scored("2026-09-28"), row])
    assert [(p.field, p.line) for p in refused.value.problems] == [(field, 6)]


def test_suzhou_has_no_appeal_procedure(sqlite_store: Store, write_jsonl: Write) -> None:
    with pytest.raises(ImportFileError) as refused:
        load(sqlite_store, write_jsonl, [*scored("2026-09-28", "10.1"), appeal("A-1", "v1", "2026-09-29")],
             profile=SUZHOU)
    assert "no appeal procedure" in refused.value.problems[0].message


def test_an_appeal_at_an_institution_target_is_refused(sqlite_store: Store, write_jsonl: Write) -> None:
    rows = [*scored("2026-09-28"), {"kind": "institution_sanction", "id": "I-1", "institution_code": SITE_A,
                                    "action": "suspend", "start": "2026-09-01", "end": None, "basis": "x"},
            appeal("A-1", "I-1", "2026-09-29")]
    with pytest.raises(ImportFileError) as refused:
        load(sqlite_store, write_jsonl, rows)
    assert refused.value.problems[0].field == "target_id"
