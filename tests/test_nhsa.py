"""The national platform adapter: 2204/2301 envelopes as real HIS integrations send them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.demo import CLINIC, HOSPITAL, write_demo_data
from gateway.settings import Settings
from rules.importer import import_files
from rules.profiles import Profile
from rules.store import Store

TODAY = date.today()
OK, SUSPENDED, TERMINATED, NO_AGREEMENT, UNKNOWN = (
    "D330802000001", "D330802000002", "D330802000003", "D330802000005", "D330802000099")


@pytest.fixture(name="published")
def fix_published(sqlite_store: Store, redis: redis.Redis, keys: Keys, profile: Profile, tmp_path: Path) -> None:
    import_files(sqlite_store, profile, [write_demo_data(tmp_path / "demo.jsonl", TODAY)])
    Syncer(redis, keys, sqlite_store, profile).full()


def _client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(name="client")
def fix_client(settings: Settings, published: None) -> Iterator[TestClient]:
    yield from _client(settings)


def fee(sn: int, doctor: str, **extra: Any) -> dict[str, Any]:
    """One 2204 feedetail as HIS integrations send it: numbers as strings, blanks as ""."""
    line = {
        "feedetl_sn": f"{TODAY:%Y%m%d}00{sn:04d}", "init_feedetl_sn": "", "mdtrt_id": "330800G0000123456789",
        "psn_no": "33000000000000000012", "chrg_bchno": "CB20240001", "dise_codg": "", "rxno": "RX001",
        "rx_circ_flag": "0", "fee_ocur_time": f"{TODAY} 09:41:27", "med_list_codg": "XJ01CAA040A001010104022",
        "medins_list_codg": "1001", "det_item_fee_sumamt": "25.60", "cnt": "2.0000", "pric": "12.8000",
        "sin_dos_dscr": "", "used_frqu_dscr": "", "prd_days": "", "medc_way_dscr": "",
        "bilg_dept_codg": "A03", "bilg_dept_name": "内科", "bilg_dr_codg": doctor, "bilg_dr_name": "",
        "acord_dept_codg": "", "acord_dept_name": "", "orders_dr_code": "", "orders_dr_name": "",
        "hosp_appr_flag": "1", "tcmdrug_used_way": "", "etip_flag": "", "etip_hosp_code": "",
        "dscg_tkdrug_flag": "", "matn_fee_flag": "", "memo": "",
    }
    line.update(extra)
    return line


def envelope(infno: str, lines: list[dict[str, Any]], institution: str = HOSPITAL) -> dict[str, Any]:
    return {
        "infno": infno, "msgid": f"{institution}{TODAY:%Y%m%d}0828271037", "mdtrtarea_admvs": "330802",
        "insuplc_admdvs": "330802", "recer_sys_code": "HIS", "dev_no": "", "dev_safe_info": "", "cainfo": "",
        "signtype": "SM2", "infver": "V1.0", "opter_type": "1", "opter": "0001", "opter_name": "收费员",
        "inf_time": f"{TODAY} 09:41:30", "fixmedins_code": institution, "fixmedins_name": "衢州市人民医院",
        "sign_no": "", "input": {"feedetail": lines},
    }


def inpatient(sn: int, doctor: str, med_type: str = "21", **extra: Any) -> dict[str, Any]:
    line = fee(sn, doctor, med_type=med_type, drord_no="YZ001", **extra)
    del line["rxno"], line["rx_circ_flag"]
    return line


def test_2204_all_pass_answers_infcode_0_and_no_results(client: TestClient) -> None:
    reply = client.post("/nhsa/2204", json=envelope("2204", [fee(1, OK), fee(2, OK)]))
    assert reply.status_code == 200
    body = reply.json()
    assert body["infcode"] == 0 and body["err_msg"] == ""
    assert body["output"]["result"] == []
    assert body["output"]["drgate"]["decision"] == "pass"


def test_response_envelope_has_the_platform_fields(client: TestClient) -> None:
    body = client.post("/nhsa/2204", json=envelope("2204", [fee(1, OK)])).json()
    assert body["inf_refmsgid"].startswith("330802") and len(body["inf_refmsgid"]) == 30
    assert len(body["refmsg_time"]) == 17 and body["refmsg_time"].isdigit()
    assert len(body["respond_time"]) == 17 and body["respond_time"] >= body["refmsg_time"]


def test_rejected_line_comes_back_as_a_3101_result(client: TestClient) -> None:
    body = client.post("/nhsa/2204", json=envelope("2204", [fee(1, OK), fee(2, SUSPENDED)])).json()
    assert body["infcode"] == 0
    [result] = body["output"]["result"]
    assert result["rule_id"] == "DRGATE-05"
    assert result["rule_name"] == "开单医生医保医师服务协议暂停期间"
    assert "衢州 第二十一条、第二十二条" in result["vola_cont"] and SUSPENDED in result["vola_cont"]
    assert result["mdtrt_id"] == "330800G0000123456789" and result["patn_id"] == "33000000000000000012"
    assert result["sev_deg"] == "1"
    [detail] = result["judge_result_detail_dtos"]
    assert detail["rx_id"] == fee(2, SUSPENDED)["feedetl_sn"]
    assert detail["vola_item_type"] == "1"
    assert detail["vola_amt"] == 25.6 and result["vola_amt"] == 25.6
    assert body["output"]["drgate"]["decision"] == "partial"


def test_lines_of_one_physician_and_reason_share_one_result(client: TestClient) -> None:
    lines = [fee(1, SUSPENDED), fee(2, SUSPENDED, det_item_fee_sumamt="", cnt="3", pric="1.5"), fee(3, UNKNOWN)]
    result = client.post("/nhsa/2204", json=envelope("2204", lines)).json()["output"]["result"]
    by_rule = {r["rule_id"]: r for r in result}
    assert set(by_rule) == {"DRGATE-05", "DRGATE-02"}
    assert [d["rx_id"] for d in by_rule["DRGATE-05"]["judge_result_detail_dtos"]] == [
        lines[0]["feedetl_sn"], lines[1]["feedetl_sn"]]
    assert by_rule["DRGATE-05"]["vola_amt"] == 30.1  # 25.60 + 3 × 1.5


@pytest.mark.parametrize(("doctor", "institution", "rule_id"), [
    (OK, CLINIC, "DRGATE-01"),
    (UNKNOWN, HOSPITAL, "DRGATE-02"),
    ("D330802000004", HOSPITAL, "DRGATE-03"),
    (TERMINATED, HOSPITAL, "DRGATE-04"),
    (SUSPENDED, HOSPITAL, "DRGATE-05"),
    (NO_AGREEMENT, HOSPITAL, "DRGATE-06"),
])
def test_each_reason_has_its_rule_id(client: TestClient, doctor: str, institution: str, rule_id: str) -> None:
    result = client.post("/nhsa/2204", json=envelope("2204", [fee(1, doctor)], institution)).json()["output"]["result"]
    assert [r["rule_id"] for r in result] == [rule_id]


def test_orders_dr_code_does_not_decide(client: TestClient) -> None:
    body = client.post("/nhsa/2204", json=envelope("2204", [fee(1, SUSPENDED, orders_dr_code=OK)])).json()
    assert [r["rule_id"] for r in body["output"]["result"]] == ["DRGATE-05"]


def test_er_flag_1_exempts_the_line(client: TestClient) -> None:
    lines = [fee(1, SUSPENDED, exp_content={"er_flag": "1"}), fee(2, SUSPENDED, exp_content={"er_flag": "0"})]
    body = client.post("/nhsa/2204", json=envelope("2204", lines)).json()
    [result] = body["output"]["result"]
    assert [d["rx_id"] for d in result["judge_result_detail_dtos"]] == [lines[1]["feedetl_sn"]]
    first = body["output"]["drgate"]["lines"][0]
    assert first["reason"] == "emergency_exempt" and first["would_reject"] == "suspended"


def test_er_flag_inside_a_json_string_counts(client: TestClient) -> None:
    body = client.post("/nhsa/2204", json=envelope("2204", [fee(1, SUSPENDED, exp_content='{"er_flag":"1"}')]))
    assert body.json()["output"]["result"] == []


def test_2301_med_type_13_is_emergency(client: TestClient) -> None:
    body = client.post("/nhsa/2301", json=envelope("2301", [inpatient(1, SUSPENDED, "13")])).json()
    assert body["infcode"] == 0 and body["output"]["result"] == []
    assert body["output"]["drgate"]["lines"][0]["reason"] == "emergency_exempt"


def test_2301_ordinary_inpatient_line_is_rejected(client: TestClient) -> None:
    body = client.post("/nhsa/2301", json=envelope("2301", [inpatient(1, TERMINATED, "21")])).json()
    assert [r["rule_id"] for r in body["output"]["result"]] == ["DRGATE-04"]


def test_regional_rescue_code_is_exempt_when_configured(settings: Settings, published: None) -> None:
    payload = envelope("2301", [inpatient(1, SUSPENDED, "9914")])
    for client in _client(settings):
        assert client.post("/nhsa/2301", json=payload).json()["output"]["result"] != []
    for client in _client(settings.model_copy(update={"rescue_med_types": ("9914",)})):
        assert client.post("/nhsa/2301", json=payload).json()["output"]["result"] == []


def test_rescue_codes_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRGATE_RESCUE_MED_TYPES", "9914, 9902")
    assert Settings().rescue_med_types == ("9914", "9902")


def test_numbers_may_arrive_as_numbers_and_codes_as_numbers(client: TestClient) -> None:
    line = fee(1, SUSPENDED, det_item_fee_sumamt=12.5, cnt=1, pric=12.5, feedetl_sn=17)
    result = client.post("/nhsa/2204", json=envelope("2204", [line])).json()["output"]["result"]
    assert result[0]["judge_result_detail_dtos"][0] == {**result[0]["judge_result_detail_dtos"][0],
                                                         "rx_id": "17", "vola_amt": 12.5}


def test_optional_fields_may_be_blank(client: TestClient) -> None:
    payload = envelope("2204", [fee(1, SUSPENDED, med_type="", psn_no="", exp_content="", cnt="", pric="",
                                    det_item_fee_sumamt="")])
    payload["insuplc_admdvs"] = ""
    body = client.post("/nhsa/2204", json=payload).json()
    assert body["infcode"] == 0
    [result] = body["output"]["result"]
    assert result["patn_id"] == "" and result["vola_amt"] == 0.0


def test_shadow_mode_rejects_nothing_but_says_what_would_be(settings: Settings, published: None) -> None:
    for client in _client(settings.model_copy(update={"enforce": False})):
        body = client.post("/nhsa/2204", json=envelope("2204", [fee(1, SUSPENDED)])).json()
    assert body["output"]["result"] == []
    assert body["output"]["drgate"]["lines"][0]["would_reject"] == "suspended"


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda e: e["input"]["feedetail"][1].update(bilg_dr_codg=""), "input.feedetail[1].bilg_dr_codg"),
    (lambda e: e["input"]["feedetail"][0].update(bilg_dr_codg="D33:0802"), "input.feedetail[0].bilg_dr_codg"),
    (lambda e: e["input"]["feedetail"][0].update(fee_ocur_time="2024-02-30 10:00:00"),
     "input.feedetail[0].fee_ocur_time"),
    (lambda e: e["input"]["feedetail"][0].pop("feedetl_sn"), "input.feedetail[0].feedetl_sn"),
    (lambda e: e["input"]["feedetail"][0].update(cnt="two"), "input.feedetail[0].cnt"),
    (lambda e: e.update(fixmedins_code=""), "fixmedins_code"),
    (lambda e: e.update(mdtrtarea_admvs="3308"), "mdtrtarea_admvs"),
    (lambda e: e.update(insuplc_admdvs="33"), "insuplc_admdvs"),
    (lambda e: e["input"]["feedetail"][0].update(psn_no="9" * 31), "input.feedetail[0].psn_no"),
    (lambda e: e["input"]["feedetail"][0].update(med_type="1234567"), "input.feedetail[0].med_type"),
    (lambda e: e["input"]["feedetail"][0].update(exp_content="{"), "input.feedetail[0].exp_content"),
    (lambda e: e["input"].update(feedetail=[]), "input.feedetail"),
    (lambda e: e.pop("input"), "input"),
])
def test_malformed_input_answers_infcode_minus_1_naming_the_field(client: TestClient, mutate: Any,
                                                                   field: str) -> None:
    payload = envelope("2204", [fee(1, OK), fee(2, OK)])
    mutate(payload)
    reply = client.post("/nhsa/2204", json=payload)
    assert reply.status_code == 200
    body = reply.json()
    assert body["infcode"] == -1
    assert body["err_msg"].startswith(field + ":")
    assert body["output"] == {}


def test_2301_line_without_med_type_is_malformed(client: TestClient) -> None:
    line = inpatient(1, OK)
    line["med_type"] = ""
    body = client.post("/nhsa/2301", json=envelope("2301", [line])).json()
    assert body["infcode"] == -1 and body["err_msg"].startswith("input.feedetail[0].med_type:")


def test_infno_must_match_the_route(client: TestClient) -> None:
    body = client.post("/nhsa/2204", json=envelope("2301", [fee(1, OK)])).json()
    assert body["infcode"] == -1 and "infno" in body["err_msg"]


def test_body_that_is_not_json_answers_infcode_minus_1(client: TestClient) -> None:
    body = client.post("/nhsa/2204", content=b"<xml/>", headers={"content-type": "application/json"}).json()
    assert body["infcode"] == -1 and body["err_msg"]


def test_line_dates_decide_per_line(client: TestClient) -> None:
    suspended_from = TODAY - timedelta(days=10)  # the demo suspension of D…002 starts 10 days ago
    before = f"{suspended_from - timedelta(days=1)} 23:59:59"
    lines = [fee(1, SUSPENDED, fee_ocur_time=before), fee(2, SUSPENDED)]
    result = client.post("/nhsa/2204", json=envelope("2204", lines)).json()["output"]["result"]
    assert [d["rx_id"] for d in result[0]["judge_result_detail_dtos"]] == [lines[1]["feedetl_sn"]]


def test_the_same_decision_as_v1(client: TestClient) -> None:
    doctors = [OK, SUSPENDED, TERMINATED, NO_AGREEMENT, UNKNOWN, "D330802000004", "D330802000006"]
    nhsa = client.post("/nhsa/2204", json=envelope("2204", [fee(i, d) for i, d in enumerate(doctors)])).json()
    v1 = client.post("/v1/claims/check", json={
        "claim_id": "C-1", "institution_code": HOSPITAL, "service_date": str(TODAY),
        "lines": [{"line_id": str(i), "physician_code": d} for i, d in enumerate(doctors)]}).json()
    strip = lambda lines: [{k: v for k, v in ln.items() if k not in ("line_id", "feedetl_sn", "bilg_dr_codg",  # noqa: E731
                                                                     "physician_code")} for ln in lines]
    assert strip(nhsa["output"]["drgate"]["lines"]) == strip(v1["lines"])


def test_envelope_translates_to_the_shared_claim() -> None:
    from gateway.nhsa import Envelope2301, to_check_request

    payload = envelope("2301", [inpatient(1, OK, "9914", exp_content={"er_flag": "1"})])
    claim = to_check_request(Envelope2301.model_validate(payload))
    [line] = claim.lines
    assert (claim.claim_id, claim.institution_code) == (payload["msgid"], HOSPITAL)
    assert (line.line_id, line.physician_code, line.service_date, line.med_type, line.emergency) == (
        payload["input"]["feedetail"][0]["feedetl_sn"], OK, f"{TODAY} 09:41:27", "9914", True)
