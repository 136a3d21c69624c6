"""docs/decision.md's table, row by row, each row with the article behind it."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.check.decision import assess, decide_line, decide_unverified
from rules.model import OPEN_END, Agreement, Credit, InstitutionRecord, PhysicianRecord, Sanction
from rules.profiles import load_profile

BASIS = load_profile("quzhou-2020").reasons
HOSP = "H33080200001"
OTHER = "H33080200002"
ON = date(2026, 11, 20).toordinal()


def d(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def physician(*, agreements: tuple[Agreement, ...] | None = None, sanctions: tuple[Sanction, ...] = (),
              credits: tuple[Credit, ...] = ()) -> PhysicianRecord:
    if agreements is None:
        agreements = (Agreement(HOSP, d("2021-01-01")),)
    return PhysicianRecord("D330802000001", agreements, sanctions, credits)


ACTIVE = physician()
SUSPENDED_INST = InstitutionRecord(HOSP, (Sanction("suspend", d("2026-11-01"), d("2026-12-01")),))


@pytest.mark.parametrize(
    ("case", "record", "institution", "reason", "article"),
    [
        ("institution suspended", ACTIVE, SUSPENDED_INST, "institution_suspended", "衢州 第十四条"),
        ("not in the registry", None, None, "unknown_physician", "衢州 第十三条、第十五条"),
        ("credit D", physician(credits=(Credit("D", d("2026-01-01")),)), None, "disqualified", "衢州 第二十三条"),
        ("terminated", physician(agreements=(Agreement(HOSP, d("2021-01-01"), d("2026-06-01")),),
                                 sanctions=(Sanction("terminate", d("2026-06-01"), OPEN_END, d("2027-06-01")),)),
         None, "terminated", "衢州 第二十一条"),
        ("suspended", physician(sanctions=(Sanction("suspend", d("2026-11-01"), d("2027-01-01")),)), None,
         "suspended", "衢州 第二十一条、第二十二条"),
        ("settlement suspended", physician(sanctions=(Sanction("settlement_suspend", d("2026-11-01")),)), None,
         "suspended", "衢州 第二十一条、第二十二条"),
        ("no agreement here", physician(agreements=(Agreement(OTHER, d("2021-01-01")),)), None,
         "no_agreement", "衢州 第八条、第十三条"),
        ("active", ACTIVE, None, "ok", None),
    ],
)
def test_reason_and_article_of_each_row(case: str, record: PhysicianRecord | None,
                                        institution: InstitutionRecord | None, reason: str,
                                        article: str | None) -> None:
    result = decide_line(record, institution, HOSP, ON, False, BASIS)
    assert (result.reason, result.basis) == (reason, article), case
    assert result.decision == ("pass" if reason == "ok" else "reject")


def test_reasons_are_checked_in_spec_order() -> None:
    everything = physician(
        agreements=(),
        sanctions=(Sanction("terminate", d("2026-01-01"), OPEN_END, d("2027-01-01")),
                   Sanction("suspend", d("2026-01-01"))),
        credits=(Credit("D", d("2026-01-01")),),
    )
    assert assess(everything, SUSPENDED_INST, HOSP, ON)[0] == "institution_suspended"
    assert assess(everything, None, HOSP, ON)[0] == "disqualified"
    no_credit = PhysicianRecord(everything.code, (), everything.sanctions, ())
    assert assess(no_credit, None, HOSP, ON)[0] == "terminated"
    suspended_only = PhysicianRecord(everything.code, (), everything.sanctions[1:], ())
    assert assess(suspended_only, None, HOSP, ON)[0] == "suspended"


@pytest.mark.parametrize(("on", "reason"), [
    ("2026-10-31", "ok"),          # the day before the suspension starts
    ("2026-11-01", "suspended"),   # start is inside
    ("2026-11-30", "suspended"),
    ("2026-12-01", "ok"),          # end is the first day allowed again (half-open)
])
def test_intervals_are_half_open(on: str, reason: str) -> None:
    record = physician(sanctions=(Sanction("suspend", d("2026-11-01"), d("2026-12-01")),))
    assert assess(record, None, HOSP, d(on))[0] == reason


def test_agreement_end_is_the_first_day_without_agreement() -> None:
    record = physician(agreements=(Agreement(HOSP, d("2021-01-01"), d("2026-11-20")),))
    assert assess(record, None, HOSP, d("2026-11-19"))[0] == "ok"
    assert assess(record, None, HOSP, d("2026-11-20"))[0] == "no_agreement"


def test_multi_site_practice_passes_at_each_agreed_institution() -> None:
    record = physician(agreements=(Agreement(HOSP, d("2021-01-01")), Agreement(OTHER, d("2022-01-01"))))
    assert assess(record, None, OTHER, ON)[0] == "ok"
    assert assess(record, None, "H33080200009", ON)[0] == "no_agreement"


def test_until_of_a_suspension_is_its_end() -> None:
    record = physician(sanctions=(Sanction("suspend", d("2026-11-01"), d("2027-01-01")),))
    assert decide_line(record, None, HOSP, ON, False, BASIS).until == d("2027-01-01")


def test_until_follows_back_to_back_suspensions() -> None:
    record = physician(sanctions=(Sanction("suspend", d("2026-11-01"), d("2026-12-01")),
                                  Sanction("suspend", d("2026-12-01"), d("2027-02-01"))))
    assert decide_line(record, None, HOSP, ON, False, BASIS).until == d("2027-02-01")


def test_open_ended_suspension_has_no_until() -> None:
    record = physician(sanctions=(Sanction("suspend", d("2026-11-01")),))
    assert decide_line(record, None, HOSP, ON, False, BASIS).until == 0


def test_a_termination_has_no_until_without_a_new_agreement_and_carries_its_ban() -> None:
    # 衢州 第二十一条 解除: the agreement does not come back at the ban's end; a new one must be recorded.
    record = physician(agreements=(), sanctions=(Sanction("terminate", d("2026-06-01"), OPEN_END, d("2027-06-01")),))
    result = decide_line(record, None, HOSP, ON, False, BASIS)
    assert (result.until, result.ban_until) == (0, d("2027-06-01"))


def test_agreement_after_the_ban_is_honoured() -> None:
    record = physician(agreements=(Agreement(HOSP, d("2027-06-01")),),
                       sanctions=(Sanction("terminate", d("2026-06-01"), OPEN_END, d("2027-06-01")),))
    assert assess(record, None, HOSP, d("2027-05-31"))[0] == "terminated"
    assert assess(record, None, HOSP, d("2027-06-01"))[0] == "ok"


def test_credit_d_applies_from_its_effective_day() -> None:
    record = physician(credits=(Credit("D", d("2026-11-21")),))
    assert assess(record, None, HOSP, ON)[0] == "ok"
    assert assess(record, None, HOSP, d("2026-11-21"))[0] == "disqualified"


def test_a_later_credit_level_replaces_an_earlier_d() -> None:
    record = physician(credits=(Credit("D", d("2026-01-01")), Credit("B", d("2026-06-01"))))
    assert assess(record, None, HOSP, ON)[0] == "ok"


@pytest.mark.parametrize("record", [
    physician(credits=(Credit("C", d("2026-01-01")),)),                           # 衢州 第二十三条
    physician(sanctions=(Sanction("interview", d("2026-06-01"), d("2027-01-01")),)),  # 衢州 第二十一条
])
def test_watch_flag_passes_with_a_flag(record: PhysicianRecord) -> None:
    result = decide_line(record, None, HOSP, ON, False, BASIS)
    assert (result.decision, result.reason, result.flags) == ("pass", "ok", ("watch",))


@pytest.mark.parametrize("record", [None, physician(sanctions=(Sanction("suspend", d("2026-01-01")),)),
                                    physician(agreements=())])
def test_emergency_turns_a_rejection_into_an_exempt_pass(record: PhysicianRecord | None) -> None:
    plain = decide_line(record, None, HOSP, ON, False, BASIS)
    exempt = decide_line(record, None, HOSP, ON, True, BASIS)
    assert plain.decision == "reject"
    assert (exempt.decision, exempt.reason, exempt.would_reject) == ("pass", "emergency_exempt", plain.reason)
    assert exempt.basis == "衢州 第十五条"
    assert "emergency" in exempt.flags


def test_emergency_on_a_passing_line_keeps_ok_and_flags_it() -> None:
    result = decide_line(ACTIVE, None, HOSP, ON, True, BASIS)
    assert (result.reason, result.flags, result.would_reject) == ("ok", ("emergency",), None)


@pytest.mark.parametrize(("fail_open", "exempt", "decision", "reason"), [
    (True, False, "pass", "unverified"),
    (False, False, "reject", "unverified"),
    (False, True, "pass", "emergency_exempt"),
])
def test_unverified_follows_the_policy(fail_open: bool, exempt: bool, decision: str, reason: str) -> None:
    result = decide_unverified(fail_open, exempt, BASIS)
    assert (result.decision, result.reason) == (decision, reason)
