"""The points ledger: 衢州 第十六条 and 苏州 第七条 (yearly, multi-site), 苏州 第十四条 (per case)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from rules.ledger import entries, year_totals
from rules.model import Violation
from rules.profiles import Profile, load_profile
from tests.factories import SITE_A, SITE_B, series, violation

QUZHOU = load_profile("quzhou-2020")
SUZHOU = load_profile("suzhou-2021-draft")


def points_by_year(profile: Profile, violations: Iterable[Violation]) -> dict[int, int]:
    """The yearly points as the engine counts them (the ledger's entries, totalled by year)."""
    return year_totals(entries(profile, violations))


def points_for_year(profile: Profile, violations: Iterable[Violation], year: int) -> int:
    return points_by_year(profile, violations).get(year, 0)


@pytest.mark.parametrize(
    ("article", "item", "points"),
    [
        ("衢州 第十七条", "17.2", 12),
        ("衢州 第十八条", "18.1", 6),
        ("衢州 第十九条", "19.5", 2),
        ("衢州 第二十条", "20.1", 1),
    ],
)
def test_quzhou_violation_adds_its_item_points(article: str, item: str, points: int) -> None:
    assert points_for_year(QUZHOU, [violation("v1", item, "2026-03-02")], 2026) == points


@pytest.mark.parametrize(
    ("article", "item", "points"),
    [
        ("苏州 第八条", "8.1", 12),
        ("苏州 第九条", "9.3", 6),
        ("苏州 第十条", "10.1", 3),
        ("苏州 第十二条", "12.2", 1),
    ],
)
def test_suzhou_violation_adds_its_item_points(article: str, item: str, points: int) -> None:
    assert points_for_year(SUZHOU, [violation("v1", item, "2026-03-02")], 2026) == points


def test_quzhou_counts_every_occurrence_of_an_item_in_one_case() -> None:
    # 衢州 第十九条 "每次计扣 2 分"
    repeated = [violation(f"v{i}", "19.5", "2026-03-02", case_id="C1") for i in range(3)]
    assert points_for_year(QUZHOU, repeated, 2026) == 6


def test_suzhou_counts_an_item_once_within_one_case() -> None:
    # 苏州 第十四条 第一款: 多次（例）同一记分情形的，按一次（例）行为记分
    repeated = [violation(f"v{i}", "12.2", "2026-03-02", case_id="C1") for i in range(3)]
    assert points_for_year(SUZHOU, repeated, 2026) == 1


def test_suzhou_adds_different_items_of_one_case() -> None:
    # 苏州 第十四条 第一款: 两种及以上记分情形的，累计记分
    case = [
        violation("v1", "12.2", "2026-03-02", case_id="C1"),
        violation("v2", "10.1", "2026-03-02", case_id="C1"),
    ]
    assert points_for_year(SUZHOU, case, 2026) == 4


def test_suzhou_counts_the_same_item_again_in_another_case() -> None:
    cases = [
        violation("v1", "12.2", "2026-03-02", case_id="C1"),
        violation("v2", "12.2", "2026-04-02", case_id="C2"),
    ]
    assert points_for_year(SUZHOU, cases, 2026) == 2


def test_suzhou_counts_one_act_matching_several_items_once_at_the_highest() -> None:
    # 苏州 第十四条 第二款: 同一行为符合两种或两种以上记分情形的，按分值较高的情形记录一次
    act = [
        violation("v1", "12.2", "2026-03-02", case_id="C1", act_id="A1"),
        violation("v2", "9.1", "2026-03-02", case_id="C1", act_id="A1"),
        violation("v3", "10.1", "2026-03-02", case_id="C1", act_id="A1"),
    ]
    assert points_for_year(SUZHOU, act, 2026) == 6


def test_suzhou_act_scored_lower_first_adds_the_difference_when_the_higher_item_comes() -> None:
    act = [
        violation("v1", "10.1", "2026-03-02", case_id="C1", act_id="A1"),
        violation("v2", "9.1", "2026-05-02", case_id="C1", act_id="A1"),
    ]
    assert [e.points for e in entries(SUZHOU, act)] == [3, 3]


def test_quzhou_act_matching_several_items_counts_each() -> None:
    # 衢州 has no rule like 苏州 第十四条: every violation recorded counts.
    act = [
        violation("v1", "19.4", "2026-03-02", act_id="A1"),
        violation("v2", "20.1", "2026-03-02", act_id="A1"),
    ]
    assert points_for_year(QUZHOU, act, 2026) == 3


@pytest.mark.parametrize("profile", [QUZHOU, SUZHOU], ids=lambda p: p.name)
def test_points_add_up_across_institutions(profile: Profile) -> None:
    # 衢州 第十六条 跨统筹区多点执业 扣分累加; 苏州 第七条 第三款 多点执业 累计计算
    sites = [
        violation("v1", list(profile.items)[-1], "2026-03-02", institution=SITE_A),
        violation("v2", list(profile.items)[-1], "2026-04-02", institution=SITE_B),
    ]
    assert points_for_year(profile, sites, 2026) == 2


@pytest.mark.parametrize(
    ("scored_on", "year"),
    [("2026-12-31", 2026), ("2027-01-01", 2027)],
)
def test_points_belong_to_the_calendar_year_of_scored_on(scored_on: str, year: int) -> None:
    # 衢州 第十六条 每年度末扣分清零
    assert points_by_year(QUZHOU, [violation("v1", "18.1", scored_on)]) == {year: 6}


def test_points_reset_on_the_first_of_january() -> None:
    violations = series([("18.1", "2026-12-31"), ("19.1", "2027-01-01")])
    assert points_by_year(QUZHOU, violations) == {2026: 6, 2027: 2}


def test_points_count_by_scored_on_not_by_occurred_on() -> None:
    late = violation("v1", "18.1", "2027-02-01", occurred_on="2026-11-20")
    assert points_by_year(QUZHOU, [late]) == {2027: 6}


def test_year_without_violations_has_no_points() -> None:
    assert points_for_year(QUZHOU, series([("18.1", "2026-05-01")]), 2025) == 0


def test_entries_come_in_scored_on_then_id_order() -> None:
    violations = [
        violation("b", "20.1", "2026-03-02"),
        violation("a", "20.1", "2026-03-02"),
        violation("c", "20.1", "2026-01-05"),
    ]
    assert [e.violation_id for e in entries(QUZHOU, violations)] == ["c", "a", "b"]


def test_entry_keeps_the_item_points_when_the_case_rule_absorbs_it() -> None:
    repeated = [violation(f"v{i}", "9.1", "2026-03-02", case_id="C1") for i in range(2)]
    assert [(e.item_points, e.points) for e in entries(SUZHOU, repeated)] == [(6, 6), (6, 0)]
