"""Notices owed (衢州 第二十一条 书面或短信告知; 苏州 第十五条; 苏州 第十六条 事先告知): derived from
the store, idempotent, surviving revocations; served ones recorded by ``notice`` lines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.cli.main import EXIT_OK, main
from rules.errors import ImportFileError
from rules.profiles import Profile, load_profile
from rules.store.importer import import_files
from rules.store.notice_list import list_notices
from rules.store.scans import Store
from tests.calendars import package_only
from tests.rows import (
    PHYSICIAN,
    SITE_A,
    SITE_B,
    Row,
    agreement,
    appeal,
    notice,
    registry,
    revocation,
    sanction,
    violation,
)

QUZHOU = load_profile("quzhou-2020")
SUZHOU = load_profile("suzhou-2021-draft")
Write = Callable[[list[Row | str]], Path]
TWO_SITES = [*registry(), agreement("2025-01-01"), agreement("2026-01-01", site=SITE_B)]


def notices(store: Store, write: Write, rows: list[Row], profile: Profile = QUZHOU, **kw: Any
            ) -> list[dict[str, Any]]:
    import_files(store, profile, [write(rows)], calendar=package_only())
    return list_notices(store, profile, calendar=package_only(), **kw)


def causes(found: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(n["owed_on"], n["cause"], n["recipient"], n["article"]) for n in found]


# article, violations and records in -> (owed on, cause, article) of the physician's notices out
SCENARIOS = [
    pytest.param(QUZHOU, [violation("v1", "19.1", "2026-03-02")],
                 [("2026-03-02", "violation:v1", "衢州 第二十一条")], id="quzhou-21-every-scored-violation"),
    pytest.param(QUZHOU, [violation("v1", "18.1", "2026-03-02")],
                 [("2026-03-02", "band:auto:2026:interview", "衢州 第二十一条"),
                  ("2026-03-02", "violation:v1", "衢州 第二十一条")], id="quzhou-21-interview-band"),
    pytest.param(QUZHOU, [violation("v1", "18.1", "2026-03-02"), violation("v2", "19.1", "2026-09-30"),
                          violation("v3", "19.1", "2026-10-09")],
                 [("2026-03-02", "band:auto:2026:interview", "衢州 第二十一条"),
                  ("2026-03-02", "violation:v1", "衢州 第二十一条"),
                  ("2026-09-30", "violation:v2", "衢州 第二十一条"),
                  ("2026-10-09", "band:auto:2026:suspend", "衢州 第二十一条、第二十二条"),
                  ("2026-10-09", "violation:v3", "衢州 第二十一条")], id="quzhou-21-suspension-band"),
    pytest.param(QUZHOU, [sanction("S-1", "terminate", "2026-06-01", ban_until="2029-06-01")],
                 [("2026-06-01", "sanction:S-1", "衢州 第二十一条")], id="quzhou-21-explicit-sanction"),
    pytest.param(SUZHOU, [violation("v1", "10.1", "2026-03-02")],
                 [("2026-03-02", "violation:v1", "苏州 第十五条")], id="suzhou-15-points-notified"),
    pytest.param(SUZHOU, [violation("v1", "8.1", "2026-03-02")],
                 [("2026-03-02", "prior:2026", "苏州 第十六条"), ("2026-03-02", "violation:v1", "苏州 第十五条")],
                 id="suzhou-16-prior-notice-before-settlement-suspension"),
]


@pytest.mark.parametrize(("profile", "rows", "expected"), SCENARIOS)
def test_notices_owed_to_the_physician(sqlite_store: Store, write_jsonl: Write, profile: Profile,
                                       rows: list[Row], expected: list[tuple[str, str, str]]) -> None:
    found = notices(sqlite_store, write_jsonl, [*TWO_SITES, *rows], profile)
    mine = [(n["owed_on"], n["cause"], n["article"]) for n in found if n["recipient"] == PHYSICIAN]
    assert mine == expected


def test_each_institution_of_an_agreement_in_force_is_owed_the_notice(sqlite_store: Store,
                                                                      write_jsonl: Write) -> None:
    found = notices(sqlite_store, write_jsonl, [*TWO_SITES, violation("v1", "19.1", "2026-03-02")])
    assert [(n["recipient"], n["recipient_kind"]) for n in found] == [
        (PHYSICIAN, "physician"), (SITE_A, "institution"), (SITE_B, "institution")]
    assert {(n["points"], n["total"]) for n in found} == {(2, 2)}


def test_the_violations_institution_is_owed_it_even_without_an_agreement(sqlite_store: Store,
                                                                         write_jsonl: Write) -> None:
    found = notices(sqlite_store, write_jsonl, [*registry(), violation("v1", "19.1", "2026-03-02", site=SITE_B)])
    assert [n["recipient"] for n in found] == [PHYSICIAN, SITE_B]


def test_deriving_twice_or_reimporting_gives_the_same_notices(sqlite_store: Store, write_jsonl: Write) -> None:
    rows = [*TWO_SITES, violation("v1", "18.1", "2026-03-02")]
    first = notices(sqlite_store, write_jsonl, rows)
    again = notices(sqlite_store, write_jsonl, rows)
    assert first == again and len({n["id"] for n in first}) == len(first) == 6


def test_notices_survive_a_revocation_which_owes_its_own(sqlite_store: Store, write_jsonl: Write) -> None:
    notices(sqlite_store, write_jsonl, [*TWO_SITES, violation("v1", "18.1", "2026-03-02")])
    found = notices(sqlite_store, write_jsonl, [revocation("v1", "2026-04-01")])
    mine = [(n["owed_on"], n["cause"]) for n in found if n["recipient"] == PHYSICIAN]
    assert mine == [("2026-03-02", "band:auto:2026:interview"), ("2026-03-02", "violation:v1"),
                    ("2026-04-01", "revocation:v1")]


def test_an_appeals_decision_owes_a_notice(sqlite_store: Store, write_jsonl: Write) -> None:
    found = notices(sqlite_store, write_jsonl, [*TWO_SITES, violation("v1", "19.1", "2026-03-02"),
                                                appeal("A-1", "v1", "2026-03-05", "2026-04-01", "upheld")])
    [decision] = [n for n in found if n["cause"] == "appeal:A-1" and n["recipient"] == PHYSICIAN]
    assert (decision["owed_on"], decision["article"]) == ("2026-04-01", "衢州 第二十七条")
    assert "v1 is revoked" in decision["what"]


def test_a_served_notice_is_recorded_and_starts_the_appeal_period(sqlite_store: Store, write_jsonl: Write) -> None:
    rows = [*TWO_SITES, violation("v1", "19.1", "2026-09-28"), notice(f"violation:v1@{PHYSICIAN}", "2026-09-29")]
    found = notices(sqlite_store, write_jsonl, rows)
    served = {n["recipient"]: (n["served_on"], n["channel"], n["appeal_until"]) for n in found}
    assert served == {PHYSICIAN: ("2026-09-29", "sms", "2026-10-19"), SITE_A: (None, None, None),
                      SITE_B: (None, None, None)}
    due = list_notices(sqlite_store, QUZHOU, due_only=True, calendar=package_only())
    assert [n["recipient"] for n in due] == [SITE_A, SITE_B]


@pytest.mark.parametrize("bad", ["v1", "violation:v1", f"notice:v1@{PHYSICIAN}", f"violation:v 1@{PHYSICIAN}"])
def test_a_notice_line_with_a_malformed_id_is_refused_naming_the_field(sqlite_store: Store, write_jsonl: Write,
                                                                       bad: str) -> None:
    with pytest.raises(ImportFileError) as refused:
        notices(sqlite_store, write_jsonl, [*registry(), notice(bad, "2026-09-29")])
    assert [(p.field, p.line) for p in refused.value.problems] == [("id", 4)]


def test_drgate_notices_lists_them_and_due_only_the_unserved(sqlite_store: Store, write_jsonl: Write,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DRGATE_STORE_URL", sqlite_store.url)
    notices(sqlite_store, write_jsonl, [*TWO_SITES, violation("v1", "19.1", "2026-09-28"),
                                        notice(f"violation:v1@{PHYSICIAN}", "2026-09-29")])
    capsys.readouterr()
    assert main(["notices", "--json"]) == EXIT_OK
    assert len(orjson.loads(capsys.readouterr().out)) == 3
    assert main(["notices", "--due", "--json"]) == EXIT_OK
    assert [n["recipient"] for n in orjson.loads(capsys.readouterr().out)] == [SITE_A, SITE_B]
    assert main(["notices"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("3 notice(s), 1 served, 2 to serve") and "appeal until 2026-10-19" in out


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (f"violation:v9@{PHYSICIAN}", "v9 is not a violation or sanction of"),
        (f"sanction:v1@{PHYSICIAN}0", "is neither"),
        ("violation:v1@H99", "recipient H99 is neither"),
        (f"appeal:A-9@{PHYSICIAN}", "A-9 is not an appeal of"),
        (f"band:2026@{PHYSICIAN}", "not a computed sanction's id"),
        (f"prior:next@{PHYSICIAN}", "not a year"),
    ],
)
def test_a_notice_naming_no_cause_or_recipient_of_the_physician_is_refused(
        sqlite_store: Store, write_jsonl: Write, bad: str, why: str) -> None:
    with pytest.raises(ImportFileError) as refused:
        notices(sqlite_store, write_jsonl, [*TWO_SITES, violation("v1", "19.1", "2026-03-02"),
                                            notice(bad, "2026-03-03")])
    [problem] = refused.value.problems
    assert (problem.field, problem.line) == ("id", 7) and why in problem.message


def test_a_notice_to_an_institution_and_of_an_appeal_in_the_same_file_is_accepted(
        sqlite_store: Store, write_jsonl: Write) -> None:
    found = notices(sqlite_store, write_jsonl, [
        *TWO_SITES, violation("v1", "19.1", "2026-03-02"), appeal("A-1", "v1", "2026-03-05", "2026-03-20", "rejected"),
        notice(f"violation:v1@{SITE_B}", "2026-03-03", channel="written"),
        notice(f"appeal:A-1@{PHYSICIAN}", "2026-03-21")])
    assert {n["id"] for n in found if n["served_on"]} == {f"violation:v1@{SITE_B}", f"appeal:A-1@{PHYSICIAN}"}
