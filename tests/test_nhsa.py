"""2204/2301 fee uploads as HIS integrations send them (no upstream platform configured)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.cli.demo import CLINIC, HOSPITAL
from gateway.cli.demo import TERMINATED as TERMINATED_SITE
from gateway.settings import Settings
from tests.nhsa import (
    DISQUALIFIED,
    ENVELOPE_FIELDS,
    NO_AGREEMENT,
    OK,
    RESULT_FIELDS,
    SUSPENDED,
    TERMINATED,
    TODAY,
    UNKNOWN,
    fee,
    gateway,
    inpatient,
    post,
    rules_of,
)


@pytest.fixture(name="client")
def fix_client(settings: Settings, published: None) -> Iterator[TestClient]:
    yield from gateway(settings)


def test_all_pass_answers_fee_split_rows_a_2204_reader_can_read(client: TestClient) -> None:
    body = post(client, "2204", [fee(1, OK), fee(2, OK, det_item_fee_sumamt="", cnt="3", pric="1.5")])
    assert body["infcode"] == 0 and body["err_msg"] == ""
    rows = body["output"]["result"]
    assert [r["feedetl_sn"] for r in rows] == [fee(1, OK)["feedetl_sn"], fee(2, OK)["feedetl_sn"]]
    assert [r["det_item_fee_sumamt"] for r in rows] == [25.6, 4.5]
    for row in rows:  # openhis Output_2204 (non-nullable decimals), hsa-his (selfpay_prop, chrgitm_lv)
        assert isinstance(row["selfpay_prop"], float) and isinstance(row["fulamt_ownpay_amt"], float)
        assert isinstance(row["chrgitm_lv"], str) and isinstance(row["med_chrgitm_type"], str)


def test_the_envelope_has_the_platforms_fields_only(client: TestClient) -> None:
    for lines in ([fee(1, OK)], [fee(1, SUSPENDED)]):
        body = post(client, "2204", lines)
        assert set(body) == ENVELOPE_FIELDS
        assert set(body["output"]) == {"result"}
    assert body["inf_refmsgid"].startswith("330802") and len(body["inf_refmsgid"]) == 30
    assert len(body["refmsg_time"]) == 17 and body["refmsg_time"].isdigit()
    assert body["respond_time"] >= body["refmsg_time"]


def test_a_rejected_line_fails_the_upload_naming_it_with_3101_results(client: TestClient) -> None:
    body = post(client, "2204", [fee(1, OK), fee(2, SUSPENDED)])
    assert body["infcode"] == -1
    assert fee(2, OK)["feedetl_sn"] in body["err_msg"] and "suspended" in body["err_msg"]
    [result] = body["output"]["result"]
    assert set(result) == RESULT_FIELDS
    assert result["rule_id"] == "DRGATE-05" and result["rule_name"] == "开单医生医保医师服务协议暂停期间"
    assert "衢州 第二十一条、第二十二条" in result["vola_cont"] and SUSPENDED in result["vola_cont"]
    assert result["vola_evid"] == "衢州 第二十一条、第二十二条"
    assert result["mdtrt_id"] == "330800G0000123456789" and result["patn_id"] == "33000000000000000012"
    assert result["sev_deg"] == "1"
    assert result["vola_amt_stas"] and result["vola_bhvr_type"] and result["task_id"]
    assert result["jr_id"].startswith(result["task_id"] + "-")
    [detail] = result["judge_result_detail_dtos"]
    assert detail["rx_id"] == fee(2, SUSPENDED)["feedetl_sn"] and detail["vola_item_type"] == "1"
    assert detail["vola_amt"] == 25.6 and result["vola_amt"] == 25.6


def test_dictionary_codes_are_settings(settings: Settings, published: None) -> None:
    changed = settings.model_copy(update={"nhsa_vola_amt_stas": "2", "nhsa_vola_bhvr_type": "9"})
    for client in gateway(changed):
        [result] = post(client, "2204", [fee(1, SUSPENDED)])["output"]["result"]
    assert (result["vola_amt_stas"], result["vola_bhvr_type"]) == ("2", "9")


def test_lines_of_one_physician_and_reason_share_one_result(client: TestClient) -> None:
    lines = [fee(1, SUSPENDED), fee(2, SUSPENDED, det_item_fee_sumamt="", cnt="3", pric="1.5"), fee(3, UNKNOWN)]
    by_rule = {r["rule_id"]: r for r in post(client, "2204", lines)["output"]["result"]}
    assert set(by_rule) == {"DRGATE-05", "DRGATE-02"}
    assert [d["rx_id"] for d in by_rule["DRGATE-05"]["judge_result_detail_dtos"]] == [
        lines[0]["feedetl_sn"], lines[1]["feedetl_sn"]]
    assert by_rule["DRGATE-05"]["vola_amt"] == 30.1  # 25.60 + 3 × 1.5


@pytest.mark.parametrize(("doctor", "institution", "rule_id"), [
    (OK, CLINIC, "DRGATE-01"),
    (OK, TERMINATED_SITE, "DRGATE-07"),  # 衢州 第十四条 解除
    (UNKNOWN, HOSPITAL, "DRGATE-02"),
    (DISQUALIFIED, HOSPITAL, "DRGATE-03"),
    (TERMINATED, HOSPITAL, "DRGATE-04"),
    (SUSPENDED, HOSPITAL, "DRGATE-05"),
    (NO_AGREEMENT, HOSPITAL, "DRGATE-06"),
])
def test_each_reason_has_its_rule_id(client: TestClient, doctor: str, institution: str, rule_id: str) -> None:
    assert rules_of(post(client, "2204", [fee(1, doctor)], institution)) == [rule_id]


def test_orders_dr_code_does_not_decide(client: TestClient) -> None:
    assert rules_of(post(client, "2204", [fee(1, SUSPENDED, orders_dr_code=OK)])) == ["DRGATE-05"]


@pytest.mark.parametrize("exp_content", [
    {"er_flag": "1"}, '{"er_flag":"1"}', [{"er_flag": "1"}], [{"er_flag": "0"}, {"er_flag": 1}],
], ids=["object", "json-text", "list", "list-with-number"])
def test_er_flag_1_exempts_the_line(client: TestClient, exp_content: Any) -> None:
    body = post(client, "2204", [fee(1, SUSPENDED, exp_content=exp_content)])
    assert body["infcode"] == 0, body["err_msg"]


def test_er_flag_0_does_not_exempt(client: TestClient) -> None:
    assert rules_of(post(client, "2204", [fee(1, SUSPENDED, exp_content=[{"er_flag": "0"}])])) == ["DRGATE-05"]


def test_2301_med_type_13_is_emergency(client: TestClient) -> None:
    assert post(client, "2301", [inpatient(1, SUSPENDED, "13")])["infcode"] == 0


def test_2301_ordinary_inpatient_line_is_rejected(client: TestClient) -> None:
    assert rules_of(post(client, "2301", [inpatient(1, TERMINATED, "21")])) == ["DRGATE-04"]


def test_regional_rescue_code_is_exempt_when_configured(settings: Settings, published: None) -> None:
    lines = [inpatient(1, SUSPENDED, "9914")]
    for client in gateway(settings):
        assert post(client, "2301", lines)["infcode"] == -1
    for client in gateway(settings.model_copy(update={"rescue_med_types": ("9914",)})):
        assert post(client, "2301", lines)["infcode"] == 0


def test_rescue_codes_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRGATE_RESCUE_MED_TYPES", "9914, 9902")
    assert Settings().rescue_med_types == ("9914", "9902")


def test_shadow_mode_rejects_nothing(settings: Settings, published: None) -> None:
    for client in gateway(settings.model_copy(update={"enforce": False})):
        assert post(client, "2204", [fee(1, SUSPENDED)])["infcode"] == 0


def test_infcode_as_text_by_setting(settings: Settings, published: None) -> None:
    for client in gateway(settings.model_copy(update={"nhsa_infcode_text": True})):
        assert post(client, "2204", [fee(1, OK)])["infcode"] == "0"
        assert post(client, "2204", [fee(1, SUSPENDED)])["infcode"] == "-1"


def test_err_msg_holds_at_most_200_characters_however_many_lines_fail(client: TestClient) -> None:
    body = post(client, "2204", [fee(n, UNKNOWN) for n in range(40)])
    assert body["infcode"] == -1 and len(body["err_msg"]) <= 200
    assert fee(0, OK)["feedetl_sn"] in body["err_msg"] and "条" in body["err_msg"]


def test_line_dates_decide_per_line(client: TestClient) -> None:
    suspended_from = TODAY - timedelta(days=10)  # the demo suspension of D…002 starts 10 days ago
    lines = [fee(1, SUSPENDED, fee_ocur_time=f"{suspended_from - timedelta(days=1)} 23:59:59"), fee(2, SUSPENDED)]
    [result] = post(client, "2204", lines)["output"]["result"]
    assert [d["rx_id"] for d in result["judge_result_detail_dtos"]] == [lines[1]["feedetl_sn"]]


def test_the_same_decision_as_v1(client: TestClient) -> None:
    doctors = [OK, SUSPENDED, TERMINATED, NO_AGREEMENT, UNKNOWN, DISQUALIFIED, "D330802000006"]
    nhsa = post(client, "2204", [fee(i, d) for i, d in enumerate(doctors)])
    v1 = client.post("/v1/claims/check", json={
        "claim_id": "C-1", "institution_code": HOSPITAL, "service_date": str(TODAY),
        "lines": [{"line_id": fee(i, d)["feedetl_sn"], "physician_code": d} for i, d in enumerate(doctors)]}).json()
    rejected = {d["rx_id"] for r in nhsa["output"]["result"] for d in r["judge_result_detail_dtos"]}
    assert rejected == {ln["line_id"] for ln in v1["lines"] if ln["decision"] == "reject"}
