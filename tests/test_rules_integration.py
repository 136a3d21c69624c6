"""Import → rules engine → sync → Redis → decision: computed and explicit sanctions end to end.

Each test imports JSON Lines into a real store (SQLite, and PostgreSQL when configured), publishes
with ``Syncer.full`` to the machine's Redis under the test's own prefix, and decides lines through
the in-process path (``SnapshotReader`` + ``Checker``) or the HTTP app, on chosen dates.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.check.core import DecidedLine
from gateway.settings import Settings
from rules.profiles import Profile, load_profile
from rules.store.report import evaluate_store
from tests.gate import Gate
from tests.rows import (
    PHYSICIAN,
    SITE_A,
    SITE_B,
    agreement,
    registry,
    restoration,
    revocation,
    sanction,
    violation,
)

# 衢州 第二十一条: 6 on 2026-03-02 (interview), 8, then 9 on 2026-04-07 → suspended one month, to 2026-05-07.
NINE = [violation("v1", "18.1", "2026-03-02"), violation("v2", "19.1", "2026-04-01"),
        violation("v3", "20.1", "2026-04-07")]
# 6 + 6: 12 on 2026-05-11 → terminated; no new agreement honoured before 2027-05-11.
TWELVE = [violation("v1", "18.1", "2026-03-02"), violation("v2", "18.2", "2026-05-11")]


def outcome(line: DecidedLine) -> tuple[str, str, str | None]:
    return line.decision, line.reason, line.until


# -- 衢州 第二十一条、第二十二条: suspension ------------------------------------------------


def test_quzhou_suspension_from_9_points_without_restoration_request_stays_past_its_end(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01"), *NINE])
    assert outcome(gate.line("2026-04-06")) == ("pass", "ok", None)
    assert outcome(gate.line("2026-04-07")) == ("reject", "suspended", None)  # open: no end known
    assert outcome(gate.line("2026-05-07")) == ("reject", "suspended", None)
    assert outcome(gate.line("2026-12-31")) == ("reject", "suspended", None)


def test_quzhou_suspension_with_restoration_request_in_its_window_lifts_at_its_end(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01"), *NINE, restoration("2026-04-30")])
    line = gate.line("2026-05-06")
    assert outcome(line) == ("reject", "suspended", "2026-05-07")
    assert line.basis == "衢州 第二十一条、第二十二条"
    assert outcome(gate.line("2026-05-07")) == ("pass", "ok", None)


def test_quzhou_restoration_request_filed_too_early_does_not_lift_the_suspension(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01"), *NINE, restoration("2026-04-08")])
    assert outcome(gate.line("2026-05-07")) == ("reject", "suspended", None)


def test_quzhou_interview_band_passes_with_a_watch_flag(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01"), violation("v1", "18.1", "2026-03-02")])
    line = gate.line("2026-03-02")
    assert (line.decision, line.reason, line.flags) == ("pass", "ok", ["watch"])
    assert gate.line("2027-01-01").flags == []  # the points reset on 1 January (第十六条)


# -- 衢州 第二十一条: termination and its ban ---------------------------------------------


def test_quzhou_termination_at_12_points_rejects_from_its_day_on(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01"), *TWELVE])
    assert outcome(gate.line("2026-05-10")) == ("pass", "ok", None)
    line = gate.line("2026-05-11")
    assert (line.decision, line.reason, line.basis) == ("reject", "terminated", "衢州 第二十一条")
    assert outcome(gate.line("2027-06-01")) == ("reject", "terminated", None)  # the old agreement is ended


def test_quzhou_terminated_line_carries_the_ban_in_ban_until_and_no_until(gate: Gate) -> None:
    # 解除: the line passes again only under a new agreement, none is recorded (issue 10 item 3).
    gate.load([*registry(), agreement("2025-01-01"), *TWELVE])
    line = gate.line("2026-06-01")
    assert (outcome(line), line.ban_until) == (("reject", "terminated", None), "2027-05-11")


def test_quzhou_agreement_signed_from_ban_until_is_honoured(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01"), *TWELVE, agreement("2027-05-11", site=SITE_B)])
    assert outcome(gate.line("2027-05-10", SITE_B)) == ("reject", "terminated", "2027-05-11")
    assert outcome(gate.line("2027-05-11", SITE_B)) == ("pass", "ok", None)


def test_quzhou_emergency_line_of_a_terminated_physician_passes_exempt(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01"), *TWELVE])
    line = gate.line("2026-06-01", emergency=True)
    assert (line.decision, line.reason, line.would_reject) == ("pass", "emergency_exempt", "terminated")


def test_quzhou_revoking_the_crossing_violation_lifts_the_termination_after_an_incremental_sync(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01"), *TWELVE])
    assert gate.line("2026-06-01").reason == "terminated"
    gate.load([revocation("v2", "2026-06-15")], incremental=True, allow_shrink=True)  # the store's only sanction
    line = gate.line("2026-06-01")
    assert (line.decision, line.reason, line.flags) == ("pass", "ok", ["watch"])  # 6 points: interview


def test_quzhou_revoking_an_explicit_termination_lifts_it_after_an_incremental_sync(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01"),
               sanction("s1", "terminate", "2026-02-01", None, "2027-02-01")])
    assert gate.line("2026-03-01").reason == "terminated"
    gate.load([revocation("s1", "2026-03-05")], incremental=True, allow_shrink=True)  # the store's only sanction
    assert outcome(gate.line("2026-03-01")) == ("pass", "ok", None)


# -- 多点执业: points at every institution add up ------------------------------------------


def test_quzhou_points_at_two_institutions_terminate_at_both(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01", site=SITE_A), agreement("2025-01-01", site=SITE_B),
               violation("v1", "18.1", "2026-03-02", site=SITE_A), violation("v2", "18.2", "2026-05-11", site=SITE_B)])
    assert gate.line("2026-06-01", SITE_A).reason == "terminated"
    assert gate.line("2026-06-01", SITE_B).reason == "terminated"


def test_quzhou_points_at_two_institutions_suspend_at_both(gate: Gate) -> None:
    gate.load([*registry(), agreement("2025-01-01", site=SITE_A), agreement("2025-01-01", site=SITE_B),
               violation("v1", "18.1", "2026-03-02", site=SITE_A), violation("v2", "19.1", "2026-04-01", site=SITE_B),
               violation("v3", "20.1", "2026-04-07", site=SITE_A)])
    assert gate.line("2026-04-07", SITE_A).reason == "suspended"
    assert gate.line("2026-04-07", SITE_B).reason == "suspended"


# -- what the help desk and the HTTP API show (GET /v1/physicians/{code}, POST /v1/claims/check) -----


def test_status_lookup_shows_computed_sanctions_with_their_articles_and_the_points(
    gate: Gate, settings: Settings
) -> None:
    gate.load([*registry(), agreement("2025-01-01"), *TWELVE])
    with TestClient(create_app(settings)) as client:
        answer = client.get(f"/v1/physicians/{PHYSICIAN}", params={"on": "2026-06-01", "institution": SITE_A})
    assert answer.status_code == 200
    body = answer.json()
    assert (body["points"], body["remaining"]) == (12, 0)
    assert [(s["action"], s["start"], s["ban_until"], s["article"], s["computed"], s["in_force"])
            for s in body["sanctions"]] == [
        ("interview", "2026-03-02", None, "衢州 第二十一条", True, True),
        ("terminate", "2026-05-11", "2027-05-11", "衢州 第二十一条", True, True),
    ]
    assert (body["line"]["reason"], body["line"]["until"], body["line"]["ban_until"]) == (
        "terminated", None, "2027-05-11")


def test_claim_check_over_http_rejects_a_computed_suspension(gate: Gate, settings: Settings) -> None:
    gate.load([*registry(), agreement("2025-01-01"), *NINE])
    claim = {"claim_id": "C-1", "institution_code": SITE_A, "service_date": "2026-04-20 10:30:00",
             "lines": [{"line_id": "1", "physician_code": PHYSICIAN}]}
    with TestClient(create_app(settings)) as client:
        answer = client.post("/v1/claims/check", json=claim)
    assert answer.status_code == 200
    (line,) = answer.json()["lines"]
    assert (line["decision"], line["reason"], line["basis"]) == ("reject", "suspended", "衢州 第二十一条、第二十二条")


# -- 苏州 第十六条: an officer decides; an explicit settlement suspension lifts by itself --


class TestSuzhou:
    @pytest.fixture(name="profile")
    def fix_profile(self) -> Profile:
        return load_profile("suzhou-2021-draft")

    @pytest.fixture(name="settings")
    def fix_settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"profile": "suzhou-2021-draft"})

    def test_twelve_points_are_due_for_a_decision_but_reject_nothing(self, gate: Gate) -> None:
        gate.load([*registry(), agreement("2025-01-01"), violation("v1", "9.1", "2026-03-02"),
                   violation("v2", "9.2", "2026-05-11")])
        assert outcome(gate.line("2026-06-01")) == ("pass", "ok", None)
        (row,) = evaluate_store(gate.store, gate.profile, 2026)
        assert (row["points"], row["remaining"], row["sanctions"]) == (12, None, [])
        assert [(d["action"], d["article"]) for d in row["due"] if d["action"] != "serve_notice"] == [
            ("hearing", "苏州 第十六条"), ("settlement_suspend", "苏州 第十六条")]

    def test_explicit_settlement_suspension_lifts_at_its_end_without_a_request(self, gate: Gate) -> None:
        gate.load([*registry(), agreement("2025-01-01"), violation("v1", "8.1", "2026-03-02"),
                   sanction("s1", "settlement_suspend", "2026-04-01", "2026-07-01")])
        line = gate.line("2026-06-30")
        assert (line.decision, line.reason, line.until, line.basis) == (
            "reject", "suspended", "2026-07-01", "苏州 第十六条")
        assert outcome(gate.line("2026-07-01")) == ("pass", "ok", None)
        due = evaluate_store(gate.store, gate.profile, 2026)[0]["due"]
        assert [d["action"] for d in due if d["action"] != "serve_notice"] == []

    def test_repeats_of_one_item_in_one_case_count_once(self, gate: Gate) -> None:
        gate.load([*registry(), agreement("2025-01-01"),
                   *(violation(f"v{i}", "9.1", "2026-03-02", case_id="case-1") for i in range(3))])
        (row,) = evaluate_store(gate.store, gate.profile, 2026)
        assert (row["points"], [d["action"] for d in row["due"] if d["action"] != "serve_notice"]) == (6, [])

    def test_status_lookup_shows_points_without_remaining_and_the_explicit_sanction(
        self, gate: Gate, settings: Settings
    ) -> None:
        gate.load([*registry(), agreement("2025-01-01"), violation("v1", "8.1", "2026-03-02"),
                   sanction("s1", "settlement_suspend", "2026-04-01", "2026-07-01")])
        with TestClient(create_app(settings)) as client:
            body = client.get(f"/v1/physicians/{PHYSICIAN}", params={"on": "2026-05-01"}).json()
        assert (body["points"], body["remaining"]) == (12, None)
        assert [(s["action"], s["end"], s["article"], s["computed"], s["in_force"]) for s in body["sanctions"]] == [
            ("settlement_suspend", "2026-07-01", "苏州 第十六条", False, True)]
