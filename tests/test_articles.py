"""The regulations' second reading (issue 10), one scenario table per article.

Each scenario is records in (imported into the real store, published by a full sync to real
Redis, read by the in-process checker), then line decisions on chosen days out:
``(day, site) -> (decision, reason, until, ban_until, flags)``.
"""

from __future__ import annotations

from typing import Any

import pytest

from rules.errors import ImportFileError
from rules.profiles import Profile, load_profile
from rules.store.importer import import_files
from tests.gate import Gate, Write
from tests.rows import (
    PHYSICIAN,
    SITE_A,
    SITE_B,
    Row,
    agreement,
    registry,
    restoration,
    revocation,
    sanction,
    violation,
)

QUZHOU = load_profile("quzhou-2020")
SUZHOU = load_profile("suzhou-2021-draft")

Expect = tuple[str, str, str | None, str | None, list[str]]
Checks = list[tuple[str, str, Expect]]  # (day, site, expected line)


def institution_sanction(id: str, action: str, start: str, end: str | None, *, site: str = SITE_A) -> Row:
    return {"kind": "institution_sanction", "id": id, "institution_code": site, "action": action,
            "start": start, "end": end, "basis": f"决定书-{id}"}


def credit(level: str, effective_from: str) -> Row:
    return {"kind": "credit", "physician_code": PHYSICIAN, "level": level, "effective_from": effective_from}


def revocation_of(target_id: str, revoked_on: str) -> Row:
    return revocation(target_id, revoked_on)


def run(gate: Gate, rows: list[Row], checks: Checks) -> None:
    gate.load([*registry(), *rows])
    got = []
    for on, site, _ in checks:
        line = gate.line(on, site)
        got.append((line.decision, line.reason, line.until, line.ban_until, line.flags))
    assert got == [expected for _, _, expected in checks]


def refusals(store: Any, profile: Profile, write: Write, rows: list[Row]) -> list[tuple[int, str, str]]:
    with pytest.raises(ImportFileError) as info:
        import_files(store, profile, [write([*registry(), *rows])])
    return [(p.line, p.field, p.message) for p in info.value.problems]


def ok(flags: list[str] | None = None) -> Expect:
    return ("pass", "ok", None, None, flags or [])


def reject(reason: str, until: str | None = None, ban_until: str | None = None,
           flags: list[str] | None = None) -> Expect:
    return ("reject", reason, until, ban_until, flags or [])


# -- 衢州 第二十一条: an officer's termination bans 1 to 5 years (item 1) ---------------------

LINE = len(registry()) + 1  # the sanction's line in the file


@pytest.mark.parametrize(("ban_until", "refused"), [
    pytest.param("2027-05-10", True, id="a day short of 1 year: refused"),
    pytest.param("2027-05-11", False, id="1 year (一年内不再接受): accepted"),
    pytest.param("2031-05-11", False, id="5 years (1-5年内不得): accepted"),
    pytest.param("2031-05-12", True, id="a day past 5 years: refused"),
])
def test_quzhou_article_21_explicit_ban_is_1_to_5_years(store: Any, write_jsonl: Write, ban_until: str,
                                                         refused: bool) -> None:
    rows = [sanction("S-1", "terminate", "2026-05-11", None, ban_until)]
    if not refused:
        assert import_files(store, QUZHOU, [write_jsonl([*registry(), *rows])]).imported["sanction"] == 1
        return
    ((line, field, message),) = refusals(store, QUZHOU, write_jsonl, rows)
    assert (line, field) == (LINE, "ban_until")
    assert "衢州 第二十一条" in message and "2027-05-11" in message and "2031-05-11" in message
    assert store.count_physicians() == 0  # nothing imported


# -- 衢州 第二十一条: 解除 — several terminations, the ban that binds, what until promises (items 2, 3)

# 17.1 alone: the computed one-shot termination of 2026-03-02 bans 1 year (to 2027-03-02); the
# officer's own termination of the same event, id sorting after the computed one's, bans 3 years.
BANS = [violation("v1", "17.1", "2026-03-02"), sanction("decision-7", "terminate", "2026-03-02", None, "2029-03-02")]

ARTICLE_21_TERMINATION = [
    pytest.param([*BANS], [
        ("2026-03-01", SITE_A, ok()),
        ("2026-06-01", SITE_A, reject("terminated", None, "2029-03-02", ["watch"])),
        ("2027-06-01", SITE_A, reject("terminated", None, "2029-03-02")),
        ("2029-03-02", SITE_A, reject("terminated")),  # the ban is over, the agreement stays dissolved
    ], id="dissolved: no until without a new agreement; the latest ban binds"),
    pytest.param([*BANS, agreement("2029-03-02", site=SITE_B)], [
        ("2027-06-01", SITE_B, reject("terminated", "2029-03-02", "2029-03-02")),
        ("2029-03-02", SITE_B, ok()),
    ], id="a new agreement from the ban's end: until is its start"),
]


@pytest.mark.parametrize(("rows", "checks"), ARTICLE_21_TERMINATION)
def test_quzhou_article_21_termination(gate: Gate, rows: list[Row], checks: Checks) -> None:
    run(gate, [agreement("2025-01-01"), *rows], checks)


def test_quzhou_article_21_agreement_refused_names_the_ban_that_binds(store: Any, write_jsonl: Write) -> None:
    ((_, field, message),) = refusals(store, QUZHOU, write_jsonl, [*BANS, agreement("2026-12-01", site=SITE_B)])
    assert field == "start"
    assert "2029-03-02" in message and "decision-7" in message


# -- 衢州 第十四条: an institution's suspension holds, its termination dissolves (item 5) ------

ARTICLE_14 = [
    pytest.param([institution_sanction("I-1", "suspend", "2026-06-01", "2026-12-01")], [
        ("2026-07-01", SITE_A, reject("institution_suspended", "2026-12-01")),
        ("2026-12-01", SITE_A, ok()),
    ], id="暂停: the agreements hold again at its end"),
    pytest.param([institution_sanction("I-1", "terminate", "2026-06-01", "2026-12-01")], [
        ("2026-05-31", SITE_A, ok()),
        ("2026-07-01", SITE_A, reject("institution_terminated")),
        ("2027-01-05", SITE_A, reject("no_agreement")),
        ("2027-01-05", SITE_B, ok()),  # the physician's agreement elsewhere is not touched
    ], id="解除: the old agreement does not come back at its end"),
    pytest.param([institution_sanction("I-1", "terminate", "2026-06-01", "2026-12-01"),
                  agreement("2027-02-01")], [
        ("2026-07-01", SITE_A, reject("institution_terminated", "2027-02-01")),
        ("2027-01-05", SITE_A, reject("no_agreement", "2027-02-01")),
        ("2027-02-01", SITE_A, ok()),
    ], id="解除: a new agreement after re-admission is honoured"),
    pytest.param([institution_sanction("I-1", "terminate", "2026-06-01", None)], [
        ("2030-01-01", SITE_A, reject("institution_terminated")),
    ], id="解除 without end"),
]


@pytest.mark.parametrize(("rows", "checks"), ARTICLE_14)
def test_quzhou_article_14_institution_sanctions(gate: Gate, rows: list[Row], checks: Checks) -> None:
    run(gate, [agreement("2021-01-01"), agreement("2021-01-01", site=SITE_B), *rows], checks)


def test_quzhou_article_14_termination_has_its_own_reason_and_article(gate: Gate) -> None:
    gate.load([*registry(), agreement("2021-01-01"), institution_sanction("I-1", "terminate", "2026-06-01", None)])
    line = gate.line("2026-07-01")
    assert (line.reason, line.basis) == ("institution_terminated", "衢州 第十四条")


# -- 衢州 第二十三条: credit D 取消资格 (item 4) --------------------------------------------

ARTICLE_23 = [
    pytest.param([credit("D", "2026-03-01")], [
        ("2026-02-28", SITE_A, ok()),
        ("2026-05-01", SITE_A, reject("disqualified")),
    ], id="D: rejected from effective_from, no until"),
    pytest.param([credit("D", "2026-03-01"), credit("B", "2026-09-01")], [
        ("2026-05-01", SITE_A, reject("disqualified")),
        ("2026-09-15", SITE_A, reject("no_agreement")),
    ], id="a later B does not revive the cancelled agreement"),
    pytest.param([credit("D", "2026-03-01"), credit("A", "2026-09-01"), agreement("2026-10-01")], [
        ("2026-05-01", SITE_A, reject("disqualified", "2026-10-01")),
        ("2026-09-15", SITE_A, reject("no_agreement", "2026-10-01")),
        ("2026-10-01", SITE_A, ok()),
    ], id="an agreement after the better rating is honoured"),
    pytest.param([credit("D", "2026-03-01"), agreement("2026-05-01", site=SITE_B), credit("C", "2026-09-01")], [
        ("2026-09-15", SITE_B, reject("no_agreement", None, None, ["watch"])),
    ], id="an agreement begun under D is cancelled too"),
    pytest.param([credit("C", "2026-03-01")], [
        ("2026-05-01", SITE_A, ok(["watch"])),
    ], id="C: 重点监管, a watch flag"),
]


@pytest.mark.parametrize(("rows", "checks"), ARTICLE_23)
def test_quzhou_article_23_credit(gate: Gate, rows: list[Row], checks: Checks) -> None:
    run(gate, [agreement("2021-01-01"), *rows], checks)


# -- 衢州 第二十一条: 约谈 is owed once the total reached 6, whatever the order (item 7) -------

# A suspension from 10 points on 2026-03-02, to 2026-05-02, lifted by a request filed in its window.
INTERVIEW_ORDERS = [
    pytest.param([("19.1", "2026-02-02"), ("19.2", "2026-02-03"), ("18.1", "2026-03-02")], id="4 -> 10"),
    pytest.param([("18.1", "2026-02-02"), ("19.1", "2026-02-03"), ("19.2", "2026-03-02")], id="6 then 10"),
]


@pytest.mark.parametrize("points", INTERVIEW_ORDERS)
def test_quzhou_article_21_interview_band_beside_the_suspension(gate: Gate, points: list[tuple[str, str]]) -> None:
    violations = [violation(f"v{i}", item, on) for i, (item, on) in enumerate(points, 1)]
    run(gate, [agreement("2025-01-01"), *violations, restoration("2026-04-28")], [
        ("2026-03-02", SITE_A, reject("suspended", "2026-05-02", None, ["watch"])),
        ("2026-05-06", SITE_A, ok(["watch"])),  # watched until the year's points reset
        ("2027-01-01", SITE_A, ok()),
    ])


# -- 苏州 第十六条: 应当同时明确中止的期限; 仍然属于我市医保医师的 ... 恢复 (item 6) ------------


def test_suzhou_article_16_settlement_suspension_without_end_is_refused(store: Any, write_jsonl: Write) -> None:
    ((line, field, message),) = refusals(store, SUZHOU, write_jsonl,
                                         [sanction("S-1", "settlement_suspend", "2026-04-01", None)])
    assert (line, field) == (LINE, "end")
    assert "苏州 第十六条" in message


def test_quzhou_settlement_suspension_without_end_is_still_accepted(store: Any, write_jsonl: Write) -> None:
    rows = [*registry(), sanction("S-1", "settlement_suspend", "2026-04-01", None)]
    assert import_files(store, QUZHOU, [write_jsonl(rows)]).imported["sanction"] == 1


class TestSuzhouArticle16:
    @pytest.fixture(name="profile")
    def fix_profile(self) -> Profile:
        return SUZHOU

    @pytest.mark.parametrize(("agreement_end", "checks"), [
        pytest.param(None, [
            ("2026-05-01", SITE_A, reject("suspended", "2026-07-01")),
            ("2026-07-01", SITE_A, ok()),
        ], id="still a 医保医师 at the end: settlement restored"),
        pytest.param("2026-06-01", [
            ("2026-05-01", SITE_A, reject("suspended")),
            ("2026-07-01", SITE_A, reject("no_agreement")),
        ], id="no agreement left at the end: nothing to restore"),
    ])
    def test_restoration_at_end_needs_an_agreement(self, gate: Gate, agreement_end: str | None,
                                                   checks: Checks) -> None:
        run(gate, [agreement("2025-01-01", agreement_end),
                   sanction("S-1", "settlement_suspend", "2026-04-01", "2026-07-01")], checks)


# -- 衢州 第二十二条: a revocation reopens the window (item 10); 直至协议期满解除协议 (item 11) ---

# 2 + 2 + 2 by 2026-02-02, then 6 on 2026-06-01: 12, terminated.  Revoking v3 leaves 4 + 6 = 10 on
# 2026-06-01: a suspension of 2 months to 2026-08-01, window 2026-07-23 (7 working days) to 08-01.
WON_CASE = [violation("v1", "19.1", "2026-01-05"), violation("v2", "19.2", "2026-01-06"),
            violation("v3", "19.3", "2026-02-02"), violation("v4", "18.1", "2026-06-01")]

ARTICLE_22_REVOCATION = [
    pytest.param([revocation_of("v3", "2026-08-15")], [
        ("2026-07-01", SITE_A, reject("suspended", "2026-08-01", None, ["watch"])),
        ("2026-08-20", SITE_A, ok(["watch"])),
    ], id="end already past at the revocation: lifted"),
    pytest.param([revocation_of("v3", "2026-07-29"), restoration("2026-08-05")], [
        ("2026-07-30", SITE_A, reject("suspended", "2026-08-01", None, ["watch"])),
        ("2026-08-10", SITE_A, ok(["watch"])),
    ], id="window cut short: the full 7 working days from the revocation"),
    pytest.param([revocation_of("v3", "2026-07-29"), restoration("2026-08-07")], [
        ("2026-08-10", SITE_A, reject("suspended", None, None, ["watch"])),
    ], id="filed after the 7 working days from the revocation: extended"),
    pytest.param([revocation_of("v3", "2026-07-01")], [
        ("2026-08-10", SITE_A, reject("suspended", None, None, ["watch"])),
    ], id="revoked before the window: the window as usual, no request, extended"),
    pytest.param([revocation_of("v3", "2026-07-01"), restoration("2026-07-27")], [
        ("2026-08-10", SITE_A, ok(["watch"])),
    ], id="revoked before the window: request in it lifts at end"),
]


@pytest.mark.parametrize(("rows", "checks"), ARTICLE_22_REVOCATION)
def test_quzhou_article_22_window_of_a_suspension_a_revocation_made(gate: Gate, rows: list[Row],
                                                                   checks: Checks) -> None:
    run(gate, [agreement("2025-01-01"), *WON_CASE, *rows], checks)


# 6 on 2026-03-02, 8, then 9 on 2026-04-07: suspended to 2026-05-07, no request → extended.
NINE = [violation("v1", "18.1", "2026-03-02"), violation("v2", "19.1", "2026-04-01"),
        violation("v3", "20.1", "2026-04-07")]

ARTICLE_22_EXPIRY = [
    pytest.param([agreement("2025-01-01", "2027-01-01")], [
        ("2026-12-31", SITE_A, reject("suspended", None, None, ["watch"])),
        ("2027-01-01", SITE_A, reject("terminated")),
    ], id="extended until the agreement's end, then 解除"),
    pytest.param([agreement("2025-01-01", "2027-01-01"), agreement("2027-01-01")], [
        ("2027-01-01", SITE_A, reject("terminated")),
    ], id="the renewal from that day is not honoured"),
    pytest.param([agreement("2025-01-01", "2027-01-01"), agreement("2027-03-01", site=SITE_B)], [
        ("2027-01-15", SITE_B, reject("terminated", "2027-03-01")),
        ("2027-03-01", SITE_B, ok()),
    ], id="a new agreement after the termination is honoured (no ban)"),
    pytest.param([agreement("2025-01-01")], [
        ("2030-01-01", SITE_A, reject("suspended")),
    ], id="an open-ended agreement: suspended with no end"),
    pytest.param([agreement("2025-01-01", "2027-01-01"), restoration("2026-04-30")], [
        ("2026-05-07", SITE_A, ok(["watch"])),
    ], id="restored in time: nothing extended"),
]


@pytest.mark.parametrize(("rows", "checks"), ARTICLE_22_EXPIRY)
def test_quzhou_article_22_extended_suspension_ends_in_termination(gate: Gate, rows: list[Row],
                                                                  checks: Checks) -> None:
    run(gate, [*NINE, *rows], checks)


# -- what the fronts say of a ban (item 3): v1 answer, OpenAPI, /nhsa/ text --------------------


def test_nhsa_text_of_a_ban_does_not_promise_restored_settlement() -> None:
    from decimal import Decimal

    from gateway.check.core import DecidedLine
    from gateway.formats.nhsa.lines import Decided, Line
    from gateway.formats.nhsa.results import Dictionary, judgements

    result = DecidedLine("1", PHYSICIAN, "reject", "terminated", "衢州 第二十一条", None, [], None, "2029-03-02")
    line = Line("V-1", "1", PHYSICIAN, "2027-06-01", SITE_A, "", Decimal("25.60"), None, False, False)
    (judged,) = judgements([Decided(line, result, "d-1", PHYSICIAN)], [], Dictionary())
    assert judged["rule_id"] == "DRGATE-04"
    assert "可恢复结算" not in judged["vola_cont"] and "2029-03-02前不得重新签订服务协议" in judged["vola_cont"]


def test_openapi_names_institution_terminated_and_ban_until(settings: Any) -> None:
    from fastapi.testclient import TestClient

    from gateway.app import create_app

    with TestClient(create_app(settings)) as client:
        line = client.get("/openapi.json").json()["components"]["schemas"]["LineResult"]["properties"]
    assert "institution_terminated" in str(line["reason"]) and "ban_until" in line
