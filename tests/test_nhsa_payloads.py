"""Real senders' payloads: lenient forms accepted, undecidable lines refused by themselves, bad envelopes named."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.settings import Settings
from tests.nhsa import OK, SUSPENDED, TODAY, UNKNOWN, envelope, fee, gateway, inpatient, post, rules_of


@pytest.fixture(name="client")
def fix_client(settings: Settings, published: None) -> Iterator[TestClient]:
    yield from gateway(settings)


def test_numbers_may_arrive_as_numbers_and_codes_as_numbers(client: TestClient) -> None:
    line = fee(1, SUSPENDED, det_item_fee_sumamt=12.5, cnt=1, pric=12.5, feedetl_sn=17)
    [result] = post(client, "2204", [line])["output"]["result"]
    [detail] = result["judge_result_detail_dtos"]
    assert (detail["rx_id"], detail["vola_amt"]) == ("17", 12.5)


def test_optional_fields_may_be_blank(client: TestClient) -> None:
    payload = envelope("2204", [fee(1, SUSPENDED, med_type="", psn_no="", exp_content="", cnt="", pric="",
                                    det_item_fee_sumamt="")])
    payload["insuplc_admdvs"] = ""
    body = client.post("/nhsa/2204", json=payload).json()
    [result] = body["output"]["result"]
    assert result["patn_id"] == "" and result["vola_amt"] == 0.0


@pytest.mark.parametrize("moment", [f"{TODAY}T10:29:00", f"{TODAY} 10:29:00", f"{TODAY}", f"{TODAY}T10:29:00.000",
                                    f"{TODAY}T10:29:00.1234567+08:00"])
def test_fee_ocur_time_with_t_or_space_or_a_bare_date(client: TestClient, moment: str) -> None:
    assert rules_of(post(client, "2204", [fee(1, SUSPENDED, fee_ocur_time=moment)])) == ["DRGATE-05"]


def test_a_single_object_where_a_list_is_expected(client: TestClient) -> None:
    payload = envelope("2204", {"feedetail": fee(1, SUSPENDED)})
    assert rules_of(client.post("/nhsa/2204", json=payload).json()) == ["DRGATE-05"]


def test_extra_fields_are_ignored(client: TestClient) -> None:
    payload = envelope("2204", [fee(1, OK, some_province_field={"x": 1})])
    payload["extra_envelope_field"] = [1, 2]
    assert client.post("/nhsa/2204", json=payload).json()["infcode"] == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"bilg_dr_codg": ""}, "bilg_dr_codg"),
    ({"bilg_dr_codg": None}, "bilg_dr_codg"),
    ({"bilg_dr_codg": "D33:0802"}, "bilg_dr_codg"),
    ({"fee_ocur_time": "2024-02-30 10:00:00"}, "fee_ocur_time"),
    ({"fee_ocur_time": "yesterday"}, "fee_ocur_time"),
    ({"cnt": "two"}, "cnt"),
    ({"det_item_fee_sumamt": "1e400"}, "det_item_fee_sumamt"),
    ({"psn_no": "9" * 31}, "psn_no"),
    ({"exp_content": "{"}, "exp_content"),
], ids=lambda v: str(v)[:24])
def test_an_undecidable_line_is_refused_by_itself(client: TestClient, change: dict[str, Any], field: str) -> None:
    bad = fee(2, OK)
    bad.update(change)
    if change.get("bilg_dr_codg") is None and "bilg_dr_codg" in change:
        del bad["bilg_dr_codg"]  # fastjson drops nulls
    body = post(client, "2204", [fee(1, OK), bad, fee(3, SUSPENDED)])
    assert body["infcode"] == -1
    by_rule = {r["rule_id"]: r for r in body["output"]["result"]}
    assert set(by_rule) == {"DRGATE-00", "DRGATE-05"}  # the others were still decided
    refused = by_rule["DRGATE-00"]
    assert [d["rx_id"] for d in refused["judge_result_detail_dtos"]] == [bad["feedetl_sn"]]
    assert refused["vola_evid"] == f"input.feedetail[1].{field}"
    assert bad["feedetl_sn"] in body["err_msg"]


def test_a_line_without_its_key_is_refused_by_its_position(client: TestClient) -> None:
    bad = fee(2, OK)
    del bad["feedetl_sn"]
    body = post(client, "2204", [fee(1, OK), bad])
    [refused] = body["output"]["result"]
    assert refused["vola_evid"] == "input.feedetail[1].feedetl_sn"


def test_the_same_feedetl_sn_in_two_visits_stays_two_lines(client: TestClient) -> None:
    lines = [fee(1, SUSPENDED, mdtrt_id="V-A", det_item_fee_sumamt="10"),
             fee(1, SUSPENDED, mdtrt_id="V-B", det_item_fee_sumamt="7.5")]
    results = post(client, "2204", lines)["output"]["result"]
    assert sorted((r["mdtrt_id"], r["vola_amt"], r["judge_result_detail_dtos"][0]["mdtrt_id"]) for r in results) == [
        ("V-A", 10.0, "V-A"), ("V-B", 7.5, "V-B")]


def test_the_same_feedetl_sn_twice_in_one_visit_is_refused(client: TestClient) -> None:
    body = post(client, "2204", [fee(1, OK), fee(1, OK)])
    assert rules_of(body) == ["DRGATE-00"] and "repeats" in body["output"]["result"][0]["vola_cont"]


@pytest.mark.parametrize("refund", [{"cnt": "-2.0000", "det_item_fee_sumamt": "-25.60"},
                                    {"det_item_fee_sumamt": "-25.60"}, {"cnt": -1}])
def test_refund_lines_are_never_rejected(client: TestClient, refund: dict[str, Any]) -> None:
    body = post(client, "2204", [fee(1, UNKNOWN, **refund), fee(2, OK)])
    assert body["infcode"] == 0, body["err_msg"]


def test_2301_line_without_med_type_is_decided_as_not_emergency(client: TestClient) -> None:
    line = inpatient(1, SUSPENDED)
    line["med_type"] = ""
    assert rules_of(post(client, "2301", [line])) == ["DRGATE-05"]


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda e: e.update(fixmedins_code=""), "fixmedins_code"),
    (lambda e: e.update(fixmedins_code="H33:1"), "fixmedins_code"),
    (lambda e: e.update(mdtrtarea_admvs="3308"), "mdtrtarea_admvs"),
    (lambda e: e.update(msgid=""), "msgid"),
    (lambda e: e["input"].update(feedetail=[]), "input.feedetail"),
    (lambda e: e["input"].update(feedetail=[1]), "input.feedetail[0]"),
    (lambda e: e.pop("input"), "input"),
    (lambda e: e.update(infno="2301"), "infno"),
])
def test_an_unreadable_envelope_answers_infcode_minus_1_naming_the_field(client: TestClient, mutate: Any,
                                                                          field: str) -> None:
    payload = envelope("2204", [fee(1, OK), fee(2, OK)])
    mutate(payload)
    reply = client.post("/nhsa/2204", json=payload)
    assert reply.status_code == 200
    body = reply.json()
    assert body["infcode"] == -1 and body["err_msg"].startswith(field + ":") and body["output"] == {}


def test_body_that_is_not_json_answers_infcode_minus_1(client: TestClient) -> None:
    body = client.post("/nhsa/2204", content=b"<xml/>", headers={"content-type": "application/json"}).json()
    assert body["infcode"] == -1 and body["err_msg"]


def test_body_over_the_limit_answers_413_with_an_envelope(client: TestClient) -> None:
    reply = client.post("/nhsa/2204", content=b" " * (4 << 20 | 1), headers={"content-type": "application/json"})
    assert reply.status_code == 413
    assert reply.json()["infcode"] == -1 and set(reply.json()) >= {"err_msg", "output"}


def test_lowercase_doctor_codes_match_the_registry(client: TestClient) -> None:
    body = post(client, "2204", [fee(1, OK.lower()), fee(2, SUSPENDED.lower())])
    [result] = body["output"]["result"]
    assert result["rule_id"] == "DRGATE-05" and SUSPENDED.lower() in result["vola_cont"]
