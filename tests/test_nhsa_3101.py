"""3101/3102 明细审核: each order decided on its drord_dr_codg at medins_id on drord_begn_date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from cache.keys import Keys
from gateway.cli.demo import CLINIC
from gateway.settings import Settings
from tests.nhsa import (
    OK,
    RESULT_FIELDS,
    SUSPENDED,
    TERMINATED,
    TODAY,
    UNKNOWN,
    VISIT,
    analysis,
    encounter,
    envelope,
    gateway,
    order,
)


@pytest.fixture(name="client")
def fix_client(settings: Settings, published: None) -> Iterator[TestClient]:
    yield from gateway(settings)


def check(client: TestClient, payload: dict[str, Any], infno: str = "3101") -> Any:
    reply = client.post(f"/nhsa/{infno}", json=envelope(infno, payload))
    assert reply.status_code == 200
    return reply.json()


@pytest.mark.parametrize("infno", ["3101", "3102"])
def test_orders_of_a_good_doctor_give_no_results(client: TestClient, infno: str) -> None:
    body = check(client, analysis([encounter([order("1", OK), order("2", OK)])]), infno)
    assert body["infcode"] == 0 and body["output"] == {"result": []}


@pytest.mark.parametrize("infno", ["3101", "3102"])
def test_an_order_of_a_suspended_doctor_is_a_result(client: TestClient, infno: str) -> None:
    body = check(client, analysis([encounter([order("1", OK), order("2", SUSPENDED, sumamt="30.5")])]), infno)
    assert body["infcode"] == 0
    [result] = body["output"]["result"]
    assert set(result) == RESULT_FIELDS
    assert result["rule_id"] == "DRGATE-05" and "衢州 第二十一条" in result["vola_cont"]
    assert (result["patn_id"], result["mdtrt_id"], result["vola_amt"]) == ("33000000000000000012", VISIT, 30.5)
    assert [(d["rx_id"], d["vola_amt"]) for d in result["judge_result_detail_dtos"]] == [("2", 30.5)]
    assert result["task_id"] and result["vola_amt_stas"] and result["vola_bhvr_type"]


def test_the_order_doctor_decides_not_the_visit_doctor(client: TestClient) -> None:
    body = check(client, analysis([encounter([order("1", SUSPENDED)], dr_codg=OK)]))
    assert [r["rule_id"] for r in body["output"]["result"]] == ["DRGATE-05"]


def test_the_order_is_decided_at_its_encounters_institution(client: TestClient) -> None:
    body = check(client, analysis([encounter([order("1", OK)], medins_id=CLINIC)]))
    assert [r["rule_id"] for r in body["output"]["result"]] == ["DRGATE-01"]


def test_the_order_is_decided_on_its_begin_date(client: TestClient) -> None:
    before = TODAY - timedelta(days=11)  # the demo suspension of D…002 starts 10 days ago
    body = check(client, analysis([encounter([order("1", SUSPENDED, drord_begn_date=f"{before}T08:00:00"),
                                              order("2", SUSPENDED)])]))
    [result] = body["output"]["result"]
    assert [d["rx_id"] for d in result["judge_result_detail_dtos"]] == ["2"]


def test_an_emergency_visit_is_exempt(client: TestClient) -> None:
    body = check(client, analysis([encounter([order("1", SUSPENDED)], med_type="13")]))
    assert body["output"]["result"] == []


def test_past_orders_sent_as_context_are_not_decided(client: TestClient) -> None:
    body = check(client, analysis([encounter([order("1", SUSPENDED, curr_drord_flag="0")])]))
    assert body["output"]["result"] == []


def test_rule_ids_filter_the_results(client: TestClient) -> None:
    orders = [order("1", SUSPENDED), order("2", TERMINATED), order("3", UNKNOWN)]
    for rule_ids, expected in [("", {"DRGATE-02", "DRGATE-04", "DRGATE-05"}), ("DRGATE-04", {"DRGATE-04"}),
                               (["DRGATE-02", "DRGATE-05"], {"DRGATE-02", "DRGATE-05"}),
                               ("DRGATE-02,DRGATE-04", {"DRGATE-02", "DRGATE-04"}), (["R01"], set())]:
        body = check(client, analysis([encounter(orders)], rule_ids=rule_ids))
        assert {r["rule_id"] for r in body["output"]["result"]} == expected, rule_ids


def test_several_patients_and_visits_keep_their_own_ids(client: TestClient) -> None:
    payload = analysis([encounter([order("1", SUSPENDED)], visit="V-1"), encounter([order("1", UNKNOWN)], visit="V-2")])
    second = analysis([encounter([order("9", SUSPENDED)], visit="V-3")], patient="P-2")["data"]["patient_dtos"]
    payload["data"]["patient_dtos"] += second
    results = check(client, payload)["output"]["result"]
    assert sorted((r["patn_id"], r["mdtrt_id"], r["judge_result_detail_dtos"][0]["rx_id"]) for r in results) == [
        ("33000000000000000012", "V-1", "1"), ("33000000000000000012", "V-2", "1"), ("P-2", "V-3", "9")]


def test_an_order_without_its_doctor_is_refused_by_itself(client: TestClient) -> None:
    body = check(client, analysis([encounter([order("1", ""), order("2", SUSPENDED)])]))
    by_rule = {r["rule_id"]: r for r in body["output"]["result"]}
    assert set(by_rule) == {"DRGATE-00", "DRGATE-05"}
    assert by_rule["DRGATE-00"]["vola_evid"].endswith("fsi_order_dtos[0].drord_dr_codg")


def test_one_object_where_lists_are_expected(client: TestClient) -> None:
    payload = analysis([encounter(order("1", SUSPENDED))])  # type: ignore[arg-type]
    payload["data"]["patient_dtos"] = payload["data"]["patient_dtos"][0]
    assert [r["rule_id"] for r in check(client, payload)["output"]["result"]] == ["DRGATE-05"]


def test_an_analysis_without_data_names_the_field(client: TestClient) -> None:
    body = check(client, {"nodata": 1})
    assert body["infcode"] == -1 and body["err_msg"].startswith("input.data")


def test_the_decision_is_in_the_decision_log_under_the_task_id(client: TestClient, redis: redis.Redis,
                                                                keys: Keys) -> None:
    [result] = check(client, analysis([encounter([order("1", SUSPENDED)])]))["output"]["result"]
    client.portal.call(client.app.state.gateway.decisions.flush)  # type: ignore[attr-defined]
    entries = [orjson.loads(f[b"d"]) for _, f in redis.xrange(keys.decisions)]
    assert [e["id"] for e in entries] == [result["task_id"]]
