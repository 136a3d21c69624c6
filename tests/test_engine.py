"""The sanction engine: 衢州 第二十一条 (computed bands), 第二十二条 (restoration), 苏州 第十六条 (due)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from rules.engine import Evaluation, evaluate, report_for_year
from rules.ledger import entries
from rules.model import OPEN_END, Agreement, Sanction, Violation, iso
from rules.profiles import Profile, load_profile
from rules.sanctions import computed_sanctions
from tests.factories import SITE_A, SITE_B, explicit, facts, n, series, violation

QUZHOU = load_profile("quzhou-2020")
SUZHOU = load_profile("suzhou-2021-draft")

Row = tuple[str, str | None, str | None, str | None]


def nominal(violations: tuple[Violation, ...], profile: Profile = QUZHOU) -> list[Row]:
    """Computed sanctions before 衢州 第二十二条: (action, start, end, ban_until)."""
    return [_row(s) for s in computed_sanctions(profile, entries(profile, violations))]


def computed(evaluation: Evaluation) -> list[Row]:
    return [_row(s) for s in evaluation.record.sanctions if s.computed]


def _row(s: Sanction) -> Row:
    return (s.action, iso(s.start), iso(s.end), iso(s.ban_until))


# -- 衢州 第二十一条: the bands, dated by the violation that crosses the line ----------------

BANDS = [
    pytest.param(
        [("20.1", "2026-02-02"), ("18.1", "2026-03-10")],
        [("interview", "2026-03-10", "2027-01-01", None)],
        id="1->7 interview until year end",
    ),
    pytest.param(
        [("18.1", "2026-03-02"), ("19.1", "2026-04-01"), ("20.1", "2026-05-04")],
        [("interview", "2026-03-02", "2027-01-01", None), ("suspend", "2026-05-04", "2026-06-04", None)],
        id="8->9 suspend 1 month",
    ),
    pytest.param(
        [("18.1", "2026-03-02"), ("19.1", "2026-04-01"), ("19.2", "2026-05-04")],
        [("interview", "2026-03-02", "2027-01-01", None), ("suspend", "2026-05-04", "2026-07-04", None)],
        id="8->10 suspend 2 months",
    ),
    pytest.param(
        [("20.1", "2026-03-02"), ("19.1", "2026-04-01"), ("19.2", "2026-04-02"), ("18.1", "2026-05-04")],
        [("interview", "2026-05-04", "2027-01-01", None), ("suspend", "2026-05-04", "2026-08-04", None)],
        id="5->11 jump: suspend 3 months and the interview band (issue 10 item 7)",
    ),
    pytest.param(
        [("19.1", "2026-03-02"), ("20.1", "2026-04-01"), ("18.1", "2026-05-04")],
        [("interview", "2026-05-04", "2027-01-01", None), ("suspend", "2026-05-04", "2026-06-04", None)],
        id="3->9 jump: suspend 1 month and the interview band",
    ),
    pytest.param(
        [("18.1", "2026-03-02"), ("18.2", "2026-05-04")],
        [("interview", "2026-03-02", "2027-01-01", None), ("terminate", "2026-05-04", None, "2027-05-04")],
        id="6->12 terminate, ban 1 year",
    ),
    pytest.param(
        [("20.1", "2026-03-02"), ("19.1", "2026-04-01"), ("19.2", "2026-04-02"), ("17.2", "2026-05-04")],
        [("interview", "2026-05-04", "2027-01-01", None), ("terminate", "2026-05-04", None, "2027-05-04")],
        id="5->17 jump: terminate, no suspension, and the interview band",
    ),
    pytest.param(
        [("18.1", "2026-01-05"), ("19.1", "2026-01-20"), ("20.1", "2026-01-31")],
        [("interview", "2026-01-05", "2027-01-01", None), ("suspend", "2026-01-31", "2026-02-28", None)],
        id="31 Jan + 1 month clamps to 28 Feb",
    ),
    pytest.param(
        [("18.1", "2026-02-28"), ("18.2", "2028-02-29")],
        [("interview", "2026-02-28", "2027-01-01", None), ("interview", "2028-02-29", "2029-01-01", None)],
        id="6 each in two years: two interviews",
    ),
]


@pytest.mark.parametrize(("violations", "expected"), BANDS)
def test_quzhou_article_21_bands_fire_on_the_crossing_day(
    violations: list[tuple[str, str]], expected: list[Row]
) -> None:
    assert nominal(series(violations)) == expected


def test_quzhou_suspension_fires_once_a_year_however_far_the_points_go_within_9_to_11() -> None:
    violations = series(
        [("18.1", "2026-03-02"), ("19.1", "2026-04-01"), ("20.1", "2026-05-04"), ("20.2", "2026-06-01")]
    )
    assert [row[0] for row in nominal(violations)] == ["interview", "suspend"]


def test_quzhou_terminate_after_suspension_in_the_same_year() -> None:
    violations = series(
        [("18.1", "2026-03-02"), ("19.1", "2026-04-01"), ("20.1", "2026-05-04"), ("19.3", "2026-06-01")]
    ) + (violation("v5", "20.2", "2026-07-01"),)
    assert nominal(violations)[-1] == ("terminate", "2026-07-01", None, "2027-07-01")


def test_quzhou_one_shot_12_point_violation_bans_for_the_profile_one_shot_years() -> None:
    # 衢州 第二十一条: 一次性扣 12 分的 ... 1-5 年内不得签订
    three_years = replace(QUZHOU, bands=replace(QUZHOU.bands, one_shot_ban_years=3))
    assert nominal(series([("17.1", "2026-03-10")]), three_years)[-1] == ("terminate", "2026-03-10", None, "2029-03-10")


def test_quzhou_twelve_points_in_several_violations_ban_for_one_year_whatever_the_one_shot_years() -> None:
    three_years = replace(QUZHOU, bands=replace(QUZHOU.bands, one_shot_ban_years=3))
    rows = nominal(series([("18.1", "2026-03-02"), ("18.2", "2026-05-04")]), three_years)
    assert rows[-1] == ("terminate", "2026-05-04", None, "2027-05-04")


def test_quzhou_ban_from_29_february_ends_on_28_february() -> None:
    assert nominal(series([("17.1", "2028-02-29")]))[-1] == ("terminate", "2028-02-29", None, "2029-02-28")


@pytest.mark.parametrize(
    ("third_scored_on", "suspended"),
    [("2026-12-31", True), ("2027-01-01", False)],
)
def test_quzhou_points_of_1_january_start_a_new_year(third_scored_on: str, suspended: bool) -> None:
    # 衢州 第十六条 每年度末扣分清零
    violations = series([("18.1", "2026-12-01"), ("19.1", "2026-12-20"), ("20.1", third_scored_on)])
    assert ("suspend" in [row[0] for row in nominal(violations)]) is suspended


def test_quzhou_same_day_violations_are_taken_in_id_order() -> None:
    # ids a (1 point) then b (6 points): 5 -> 6 interview, then 6 -> 12 terminate
    violations = series([("19.1", "2026-03-01"), ("19.2", "2026-03-01"), ("20.1", "2026-03-01")]) + (
        violation("a", "20.2", "2026-04-01"),
        violation("b", "18.1", "2026-04-01"),
    )
    assert [row[0] for row in nominal(violations)] == ["interview", "terminate"]


def test_quzhou_evaluation_does_not_depend_on_the_order_of_the_facts() -> None:
    violations = list(series([("19.1", "2026-03-01"), ("18.1", "2026-03-01"), ("20.1", "2026-03-01")]))
    shuffled = violations[::-1]
    random.Random(7).shuffle(shuffled)
    assert evaluate(QUZHOU, facts(tuple(violations))) == evaluate(QUZHOU, facts(tuple(shuffled)))


def test_quzhou_computed_sanctions_carry_stable_refs_and_the_article() -> None:
    sanctions = evaluate(
        QUZHOU, facts(series([("18.1", "2026-03-02"), ("18.2", "2026-05-04")]))
    ).record.sanctions
    assert [(s.ref, s.article, s.computed) for s in sanctions] == [
        ("auto:2026:interview", "衢州 第二十一条", True),
        ("auto:2026:terminate", "衢州 第二十一条", True),
    ]


def test_quzhou_points_at_two_institutions_add_up_to_a_termination() -> None:
    # 衢州 第十六条: 跨统筹区多点执业的 ... 扣分累加计算
    violations = (
        violation("v1", "18.1", "2026-03-02", institution=SITE_A),
        violation("v2", "18.3", "2026-05-04", institution=SITE_B),
    )
    assert nominal(violations)[-1] == ("terminate", "2026-05-04", None, "2027-05-04")


def test_quzhou_revoked_violation_absent_from_the_facts_leaves_no_termination() -> None:
    # The store drops the revoked v2 (revocation after the termination): only v1's interview is left.
    kept = series([("18.1", "2026-03-02"), ("18.2", "2026-05-04")])[:1]
    assert computed(evaluate(QUZHOU, facts(kept))) == [("interview", "2026-03-02", "2027-01-01", None)]


# -- 衢州 第二十一条: 连续三年违规扣分在 9 分以上 ----------------------------------------------------

NINE = [("18.1", "-03-02"), ("19.1", "-04-01"), ("20.1", "-05-04")]  # 6, 8, 9 points


def year_of(year: int, rows: list[tuple[str, str]] = NINE) -> tuple[Violation, ...]:
    return tuple(violation(f"{year}-{i}", item, f"{year}{md}") for i, (item, md) in enumerate(rows))


def test_quzhou_third_consecutive_year_at_9_points_terminates_on_its_crossing_day() -> None:
    violations = year_of(2024) + year_of(2025) + year_of(2026)
    assert nominal(violations)[-1] == ("terminate", "2026-05-04", None, "2027-05-04")


def test_quzhou_third_consecutive_year_terminates_instead_of_suspending() -> None:
    violations = year_of(2024) + year_of(2025) + year_of(2026)
    assert [row[0] for row in nominal(violations) if row[1] and row[1].startswith("2026")] == [
        "interview",
        "terminate",
    ]


def test_quzhou_third_year_below_9_points_does_not_terminate() -> None:
    violations = year_of(2024) + year_of(2025) + year_of(2026, NINE[:2])
    assert "terminate" not in [row[0] for row in nominal(violations)]


def test_quzhou_three_years_with_a_gap_do_not_terminate() -> None:
    violations = year_of(2023) + year_of(2025) + year_of(2026)
    assert "terminate" not in [row[0] for row in nominal(violations)]


def test_quzhou_consecutive_termination_cites_article_21() -> None:
    evaluation = evaluate(QUZHOU, facts(year_of(2024) + year_of(2025) + year_of(2026)))
    assert [s.article for s in evaluation.record.sanctions if s.ref == "auto:2026:terminate"] == [
        "衢州 第二十一条"
    ]


# -- 衢州 第二十二条 in the engine ---------------------------------------------------------------

SUSPENDED_MAY = series([("18.1", "2026-03-02"), ("19.1", "2026-04-01"), ("20.1", "2026-05-04")])  # end 06-04


def test_quzhou_computed_suspension_without_restoration_request_stays_in_force() -> None:
    assert computed(evaluate(QUZHOU, facts(SUSPENDED_MAY)))[-1] == ("suspend", "2026-05-04", None, None)


def test_quzhou_computed_suspension_with_restoration_request_in_its_window_lifts_at_its_end() -> None:
    evaluation = evaluate(QUZHOU, facts(SUSPENDED_MAY, restorations=("2026-05-27",)))
    assert computed(evaluation)[-1] == ("suspend", "2026-05-04", "2026-06-04", None)


def test_quzhou_explicit_suspension_without_restoration_request_stays_in_force() -> None:
    evaluation = evaluate(QUZHOU, facts(sanctions=(explicit("S1", "suspend", "2026-09-01", "2026-10-12"),)))
    assert evaluation.record.sanctions[0].end == OPEN_END


def test_quzhou_explicit_suspension_with_request_on_first_allowed_day_lifts_at_its_end() -> None:
    suspension = explicit("S1", "suspend", "2026-09-01", "2026-10-12")
    evaluation = evaluate(QUZHOU, facts(sanctions=(suspension,), restorations=("2026-09-24",)))
    assert evaluation.record.sanctions[0].end == n("2026-10-12")


def test_suzhou_settlement_suspension_lifts_at_its_end_without_a_request() -> None:
    # 苏州 第十六条: 期限届满 ... 应当恢复其医保结算
    suspension = explicit("S1", "settlement_suspend", "2026-09-01", "2026-10-12")
    evaluation = evaluate(SUZHOU, facts(sanctions=(suspension,)))
    assert evaluation.record.sanctions[0].end == n("2026-10-12")


# -- explicit sanctions and agreements -----------------------------------------------------------


def test_explicit_sanctions_apply_beside_computed_ones() -> None:
    evaluation = evaluate(
        QUZHOU,
        facts(
            series([("18.1", "2026-03-02")]),
            sanctions=(explicit("S1", "interview", "2026-02-01", "2026-03-01"),),
        ),
    )
    assert [(s.ref, s.computed) for s in evaluation.record.sanctions] == [
        ("S1", False),
        ("auto:2026:interview", True),
    ]


def test_computed_termination_ends_agreements_started_before_it() -> None:
    agreements = (Agreement(SITE_A, n("2025-01-01")), Agreement(SITE_B, n("2026-01-01"), n("2030-01-01")))
    evaluation = evaluate(QUZHOU, facts(series([("17.2", "2026-05-04")]), agreements=agreements))
    assert evaluation.record.agreements == (
        Agreement(SITE_A, n("2025-01-01"), n("2026-05-04")),
        Agreement(SITE_B, n("2026-01-01"), n("2026-05-04")),
    )


def test_agreement_signed_during_the_ban_is_honoured_from_ban_until() -> None:
    agreements = (Agreement(SITE_B, n("2026-08-01")),)
    evaluation = evaluate(QUZHOU, facts(series([("17.2", "2026-05-04")]), agreements=agreements))
    assert evaluation.record.agreements == (Agreement(SITE_B, n("2027-05-04")),)


# -- yearly reports ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("violations", "points", "remaining"),
    [
        ([("20.1", "2026-03-02")], 1, 11),
        ([("18.1", "2026-03-02"), ("18.2", "2026-04-02")], 12, 0),
        ([("18.1", "2026-03-02"), ("18.2", "2026-04-02"), ("19.1", "2026-05-02")], 14, 0),
    ],
)
def test_quzhou_report_shows_points_and_what_is_left_of_12(
    violations: list[tuple[str, str]], points: int, remaining: int
) -> None:
    # 衢州 第十六条: 初始分值为 12 分; remaining is floored at 0
    report = evaluate(QUZHOU, facts(series(violations))).years[0]
    assert (report.year, report.points, report.remaining) == (2026, points, remaining)


def test_suzhou_report_has_no_remaining() -> None:
    assert evaluate(SUZHOU, facts(series([("12.1", "2026-03-02")]))).years[0].remaining is None


def test_report_per_year_of_violations() -> None:
    evaluation = evaluate(QUZHOU, facts(series([("20.1", "2025-12-31"), ("19.1", "2026-01-01")])))
    assert [(r.year, r.points) for r in evaluation.years] == [(2025, 1), (2026, 2)]


def test_report_lists_a_suspension_in_each_year_it_is_in_force() -> None:
    violations = series([("18.1", "2026-12-01"), ("19.1", "2026-12-10"), ("20.1", "2026-12-15")])
    evaluation = evaluate(QUZHOU, facts(violations, restorations=("2027-01-08",)))
    refs = {r.year: [s.ref for s in r.sanctions] for r in evaluation.years}
    next_year = report_for_year(QUZHOU, evaluation, 2027)
    assert refs[2026] == ["auto:2026:interview", "auto:2026:suspend"]
    assert (next_year.points, [s.ref for s in next_year.sanctions]) == (0, ["auto:2026:suspend"])


def test_report_for_a_quiet_year_keeps_an_open_ended_suspension() -> None:
    evaluation = evaluate(QUZHOU, facts(SUSPENDED_MAY))
    later = report_for_year(QUZHOU, evaluation, 2029)
    assert (later.points, later.remaining, [s.ref for s in later.sanctions]) == (0, 12, ["auto:2026:suspend"])


def test_report_drops_a_termination_once_its_ban_is_over() -> None:
    evaluation = evaluate(QUZHOU, facts(series([("17.2", "2026-05-04")])))
    assert report_for_year(QUZHOU, evaluation, 2028).sanctions == ()


# -- 苏州 第十六条: due for a decision, never computed ----------------------------------------------


def test_suzhou_twelve_points_make_settlement_suspension_due() -> None:
    report = evaluate(SUZHOU, facts(series([("9.1", "2026-03-02"), ("9.3", "2026-05-04")]))).years[0]
    assert [(d.action, d.article) for d in report.due] == [("settlement_suspend", "苏州 第十六条")]
    assert "12 points" in report.due[0].reason and "hearing" in report.due[0].reason


def test_suzhou_eleven_points_are_not_due() -> None:
    violations = series(
        [("9.1", "2026-03-02"), ("10.1", "2026-04-02"), ("12.1", "2026-05-04"), ("12.2", "2026-05-04")]
    )
    assert evaluate(SUZHOU, facts(violations)).years[0].due == ()


def test_suzhou_never_computes_sanctions() -> None:
    evaluation = evaluate(SUZHOU, facts(series([("8.1", "2026-03-02"), ("9.1", "2026-05-04")])))
    assert evaluation.record.sanctions == ()


def test_suzhou_repeat_of_one_item_in_one_case_does_not_make_suspension_due() -> None:
    # 苏州 第十四条: the same item in one case counts once, 6 points not 12
    violations = tuple(violation(f"v{i}", "9.1", "2026-03-02", case_id="C1") for i in range(2))
    assert evaluate(SUZHOU, facts(violations)).years[0].due == ()


def test_suzhou_due_is_settled_by_an_explicit_settlement_suspension_after_the_threshold() -> None:
    violations = series([("9.1", "2026-03-02"), ("9.3", "2026-05-04")])
    decision = explicit("S1", "settlement_suspend", "2026-06-01", "2026-09-01")
    assert evaluate(SUZHOU, facts(violations, sanctions=(decision,))).years[0].due == ()


def test_quzhou_has_nothing_due_because_it_sanctions_by_itself() -> None:
    assert evaluate(QUZHOU, facts(series([("17.2", "2026-05-04")]))).years[0].due == ()


def test_explicit_termination_without_ban_until_bans_for_the_profile_years() -> None:
    # 衢州 第二十一条: 自解除服务协议之日起一年内不再接受重新签订
    record = evaluate(QUZHOU, facts(sanctions=(explicit("T-1", "terminate", "2026-05-31"),))).record
    assert iso(record.sanctions[0].ban_until) == "2027-05-31"


def test_explicit_ban_until_is_kept_as_the_officer_set_it() -> None:
    one = explicit("T-1", "terminate", "2026-05-31", ban_until="2029-05-31")  # 一次性扣 12 分: 1-5 年
    assert iso(evaluate(QUZHOU, facts(sanctions=(one,))).record.sanctions[0].ban_until) == "2029-05-31"
