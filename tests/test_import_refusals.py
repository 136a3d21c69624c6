"""`drgate store import`: refusals of the import contract (docs/import-format.md) and the termination ban
(衢州 第二十一条)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rules.errors import ImportFileError, LineProblem
from rules.model import iso
from rules.profiles import Profile, load_profile
from rules.store.importer import import_files
from rules.store.scans import Store
from tests.rows import (
    PHYSICIAN,
    SITE_A,
    SITE_B,
    Row,
    agreement,
    registry,
    revocation,
    sanction,
    violation,
)

Write = Callable[[list[Row | str]], Path]
QUZHOU = load_profile("quzhou-2020")
SUZHOU = load_profile("suzhou-2021-draft")

# 衢州 第二十一条: 6 + 6 points reach 12 on 2026-05-11 → terminate, no new agreement before 2027-05-11.
TWELVE = [violation("v1", "18.1", "2026-03-02"), violation("v2", "18.2", "2026-05-11")]


def refused(store: Store, profile: Profile, write: Write, rows: list[Row | str], **kw: Any) -> list[LineProblem]:
    with pytest.raises(ImportFileError) as info:
        import_files(store, profile, [write(rows)], **kw)
    return info.value.problems


def agreement_starts(store: Store, code: str = PHYSICIAN) -> list[tuple[str, str | None]]:
    (facts,) = store.physician_facts([code])
    return [(a.institution, iso(a.start)) for a in facts.agreements]


# -- unknown items, violations without a basis (docs/import-format.md, 苏州 第十三条) -------


@pytest.mark.parametrize(("profile", "foreign_item"), [(QUZHOU, "8.1"), (SUZHOU, "17.1")],
                         ids=["quzhou", "suzhou"])
def test_violation_with_an_item_of_the_other_city_is_refused_naming_the_item(
    store: Store, write_jsonl: Write, profile: Profile, foreign_item: str
) -> None:
    path = write_jsonl([*registry(), violation("v1", foreign_item, "2026-03-02")])
    with pytest.raises(ImportFileError) as info:
        import_files(store, profile, [path])
    assert [(p.line, p.field) for p in info.value.problems] == [(4, "item")]
    assert foreign_item in info.value.problems[0].message
    assert store.count_physicians() == 0  # nothing imported


@pytest.mark.parametrize("profile", [QUZHOU, SUZHOU], ids=["quzhou", "suzhou"])
@pytest.mark.parametrize("missing", ["basis_type", "basis_no"])
def test_violation_without_its_basis_is_refused_for_both_profiles(
    store: Store, write_jsonl: Write, profile: Profile, missing: str
) -> None:
    item = next(iter(profile.items))
    row = violation("v1", item, "2026-03-02")
    del row[missing]
    problems = refused(store, profile, write_jsonl, [*registry(), row])
    assert [(p.line, p.field) for p in problems] == [(4, missing)]
    assert store.count_physicians() == 0


@pytest.mark.parametrize("profile", [QUZHOU, SUZHOU], ids=["quzhou", "suzhou"])
def test_violation_with_an_empty_basis_number_is_refused(store: Store, write_jsonl: Write, profile: Profile) -> None:
    row = violation("v1", next(iter(profile.items)), "2026-03-02")
    row["basis_no"] = ""
    assert [p.field for p in refused(store, profile, write_jsonl, [*registry(), row])] == ["basis_no"]


# -- 衢州 第二十一条: no new agreement inside a termination ban --------------------------


def test_agreement_inside_a_ban_computed_from_stored_violations_is_refused(store: Store, write_jsonl: Write) -> None:
    import_files(store, QUZHOU, [write_jsonl([*registry(), agreement("2025-01-01"), *TWELVE])])
    path = write_jsonl([agreement("2026-09-01", site=SITE_B)])
    with pytest.raises(ImportFileError) as info:
        import_files(store, QUZHOU, [path])
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.field) == (str(path), 1, "start")
    assert "2026-05-11" in problem.message and "2027-05-11" in problem.message
    assert "衢州 第二十一条" in problem.message
    assert agreement_starts(store) == [(SITE_A, "2025-01-01")]


def test_agreement_inside_a_ban_of_a_violation_in_the_same_file_is_refused(store: Store, write_jsonl: Write) -> None:
    rows: list[Row | str] = [*registry(), *TWELVE, agreement("2026-12-01")]
    path = write_jsonl(rows)
    with pytest.raises(ImportFileError) as info:
        import_files(store, QUZHOU, [path])
    assert [(p.file, p.line, p.field) for p in info.value.problems] == [(str(path), 6, "start")]
    assert store.count_physicians() == 0  # all or nothing: the violations are not written either


def test_agreement_on_the_termination_day_is_inside_the_ban(store: Store, write_jsonl: Write) -> None:
    problems = refused(store, QUZHOU, write_jsonl, [*registry(), *TWELVE, agreement("2026-05-11")])
    assert [p.field for p in problems] == ["start"]


def test_agreement_from_ban_until_on_is_accepted(store: Store, write_jsonl: Write) -> None:
    import_files(store, QUZHOU, [write_jsonl([*registry(), *TWELVE, agreement("2027-05-11", site=SITE_B)])])
    assert agreement_starts(store) == [(SITE_B, "2027-05-11")]


def test_agreement_started_before_the_termination_is_accepted(store: Store, write_jsonl: Write) -> None:
    import_files(store, QUZHOU, [write_jsonl([*registry(), *TWELVE, agreement("2026-05-10")])])
    assert agreement_starts(store) == [(SITE_A, "2026-05-10")]


def test_agreement_inside_an_explicit_termination_ban_is_refused(store: Store, write_jsonl: Write) -> None:
    import_files(store, QUZHOU, [write_jsonl([*registry(), sanction("s1", "terminate", "2026-02-01", None,
                                                                         "2029-02-01")])])
    (problem,) = refused(store, QUZHOU, write_jsonl, [agreement("2028-06-01")])
    assert problem.field == "start" and "sanction s1" in problem.message and "2029-02-01" in problem.message


def test_suzhou_explicit_termination_ban_is_enforced_at_import(store: Store, write_jsonl: Write) -> None:
    rows: list[Row | str] = [*registry(), sanction("s1", "terminate", "2026-02-01", None, "2027-02-01"),
                             agreement("2026-03-01")]
    (problem,) = refused(store, SUZHOU, write_jsonl, rows)
    assert problem.field == "start" and "苏州 第十六条" in problem.message


def test_suzhou_twelve_points_alone_do_not_ban_new_agreements(store: Store, write_jsonl: Write) -> None:
    rows: list[Row | str] = [*registry(), violation("v1", "8.1", "2026-03-02"), agreement("2026-04-01")]
    import_files(store, SUZHOU, [write_jsonl(rows)])  # 苏州 第十六条: an officer decides, no computed ban
    assert agreement_starts(store) == [(SITE_A, "2026-04-01")]


def test_revocation_in_the_same_file_lifts_the_ban_for_its_agreements(store: Store, write_jsonl: Write) -> None:
    import_files(store, QUZHOU, [write_jsonl([*registry(), *TWELVE])])
    import_files(store, QUZHOU, [write_jsonl([revocation("v2", "2026-06-01"), agreement("2026-07-01")])])
    assert agreement_starts(store) == [(SITE_A, "2026-07-01")]


def test_revoked_explicit_termination_in_the_store_bans_nothing(store: Store, write_jsonl: Write) -> None:
    import_files(store, QUZHOU, [write_jsonl([*registry(), sanction("s1", "terminate", "2026-02-01", None,
                                                                         "2027-02-01"),
                                              revocation("s1", "2026-03-01")])])
    import_files(store, QUZHOU, [write_jsonl([agreement("2026-04-01")])])
    assert agreement_starts(store) == [(SITE_A, "2026-04-01")]


def test_ban_counts_points_at_every_institution(store: Store, write_jsonl: Write) -> None:
    rows: list[Row | str] = [*registry(), violation("v1", "18.1", "2026-03-02", site=SITE_A),
                             violation("v2", "18.2", "2026-05-11", site=SITE_B), agreement("2026-06-01")]
    assert [p.field for p in refused(store, QUZHOU, write_jsonl, rows)] == ["start"]


def test_ban_of_another_physician_does_not_refuse_this_one(store: Store, write_jsonl: Write) -> None:
    other = "D330802000002"
    rows: list[Row | str] = [*registry(PHYSICIAN, other), *TWELVE, agreement("2026-06-01", code=other)]
    import_files(store, QUZHOU, [write_jsonl(rows)])
    assert agreement_starts(store, other) == [(SITE_A, "2026-06-01")]


def test_skip_invalid_imports_the_rest_and_reports_the_banned_agreement(store: Store, write_jsonl: Write) -> None:
    rows: list[Row | str] = [*registry(), *TWELVE, agreement("2026-06-01"), agreement("2027-06-01", site=SITE_B)]
    report = import_files(store, QUZHOU, [write_jsonl(rows)], skip_invalid=True)
    assert [(p.line, p.field) for p in report.problems] == [(6, "start")]
    assert report.imported["violation"] == 2 and report.imported["agreement"] == 1
    assert agreement_starts(store) == [(SITE_B, "2027-06-01")]
