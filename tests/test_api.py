"""HTTP API v1 end to end: demo data → store → sync → Redis → gateway, over real services."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from cache.keys import Keys
from gateway.cli.demo import DEMO, HOSPITAL
from gateway.settings import Settings
from tests.claims import TODAY, claim, client_for, publish_demo


@pytest.fixture(name="api")
def fix_api(settings: Settings, tmp_path: Path, redis: redis.Redis) -> Iterator[TestClient]:
    publish_demo(settings, tmp_path)
    with client_for(settings) as client:
        yield client


def test_each_demo_physician_gets_its_reason(api: TestClient) -> None:
    answer = api.post("/v1/claims/check", json=claim(*DEMO)).json()
    assert [line["reason"] for line in answer["lines"]] == list(DEMO.values())
    assert answer["decision"] == "partial"
    assert answer["enforced"] is True
    assert answer["decision_id"]
    assert answer["snapshot"]["version"] == 1


def test_a_rejected_line_carries_its_article(api: TestClient) -> None:
    line = api.post("/v1/claims/check", json=claim("D330802000002")).json()["lines"][0]
    assert (line["decision"], line["reason"], line["basis"]) == ("reject", "suspended", "衢州 第二十一条、第二十二条")
    # No restoration request was filed: the suspension stays with no end (衢州 第二十二条).
    assert line["until"] is None


def test_terminated_line_carries_its_ban_in_ban_until_not_until(api: TestClient) -> None:
    # 解除 (衢州 第二十一条): no new agreement recorded, so no day it passes again by itself.
    line = api.post("/v1/claims/check", json=claim("D330802000003")).json()["lines"][0]
    assert (line["until"], line["ban_until"]) == (None, (TODAY + timedelta(days=265)).isoformat())


def test_claim_decision_is_pass_or_reject_when_all_lines_agree(api: TestClient) -> None:
    assert api.post("/v1/claims/check", json=claim("D330802000001", "D330802000006")).json()["decision"] == "pass"
    assert api.post("/v1/claims/check", json=claim("D330802000002", "D330802000099")).json()["decision"] == "reject"


def test_institution_suspension_rejects_every_line(api: TestClient) -> None:
    answer = api.post("/v1/claims/check", json=claim("D330802000001", institution_code="H33080200002")).json()
    assert answer["lines"][0]["reason"] == "institution_suspended"


def test_platform_fee_time_is_accepted_as_a_date(api: TestClient) -> None:
    body = claim("D330802000001", service_date=f"{TODAY.isoformat()} 08:30:00")
    assert api.post("/v1/claims/check", json=body).json()["lines"][0]["reason"] == "ok"


def test_a_line_date_overrides_the_claim_date(api: TestClient) -> None:
    body = claim("D330802000002")
    body["lines"][0]["service_date"] = (TODAY - timedelta(days=30)).isoformat()  # before the suspension
    assert api.post("/v1/claims/check", json=body).json()["lines"][0]["reason"] == "ok"


@pytest.mark.parametrize("exemption", [{"emergency": True}, {"rescue": True}, {"med_type": "13"}])
def test_emergency_and_rescue_pass_with_what_they_would_reject(api: TestClient, exemption: dict[str, Any]) -> None:
    line = api.post("/v1/claims/check", json=claim("D330802000002", **exemption)).json()["lines"][0]
    assert (line["decision"], line["reason"], line["would_reject"]) == ("pass", "emergency_exempt", "suspended")
    assert "emergency" in line["flags"]


def test_a_line_flag_overrides_the_claim_emergency(api: TestClient) -> None:
    body = claim("D330802000002", "D330802000002", emergency=True)
    body["lines"][1]["emergency"] = False
    reasons = [line["reason"] for line in api.post("/v1/claims/check", json=body).json()["lines"]]
    assert reasons == ["emergency_exempt", "suspended"]


def test_watch_flag_for_interview_and_credit_c(api: TestClient) -> None:
    lines = api.post("/v1/claims/check", json=claim("D330802000006", "D330802000007")).json()["lines"]
    assert [(line["decision"], line["flags"]) for line in lines] == [("pass", ["watch"]), ("pass", ["watch"])]


def test_shadow_mode_passes_everything_and_tells_what_it_would_reject(settings: Settings, tmp_path: Path,
                                                                      redis: redis.Redis) -> None:
    publish_demo(settings, tmp_path)
    with client_for(settings.model_copy(update={"enforce": False})) as api:
        answer = api.post("/v1/claims/check", json=claim("D330802000002")).json()
    assert answer["enforced"] is False
    assert answer["decision"] == "pass"
    line = answer["lines"][0]
    assert (line["decision"], line["reason"], line["would_reject"]) == ("pass", "suspended", "suspended")


def test_old_snapshot_flags_lines_stale(settings: Settings, tmp_path: Path, redis: redis.Redis) -> None:
    publish_demo(settings, tmp_path)
    with client_for(settings.model_copy(update={"stale_after": 0.0})) as api:
        line = api.post("/v1/claims/check", json=claim("D330802000001")).json()["lines"][0]
    assert line["flags"] == ["stale"]


@pytest.mark.parametrize(("policy", "decision"), [("fail_open", "pass"), ("fail_closed", "reject")])
def test_a_corrupt_record_is_unverified_by_the_policy(settings: Settings, tmp_path: Path, redis: redis.Redis,
                                                      policy: str, decision: str) -> None:
    publish_demo(settings, tmp_path)
    from cache.keys import bucket_of
    from cache.meta import read_meta

    keys = Keys(settings.redis_prefix)
    meta = read_meta(redis, keys)
    redis.hset(keys.bucket(int(meta["generation"]), bucket_of("D330802000001", int(meta["buckets"]))),
               "D330802000001", b"{corrupt")
    with client_for(settings.model_copy(update={"on_unverified": policy})) as api:
        response = api.post("/v1/claims/check", json=claim("D330802000001"))
    assert response.status_code == 200
    assert (response.json()["lines"][0]["reason"], response.json()["lines"][0]["decision"]) == ("unverified", decision)


@pytest.mark.parametrize(("body", "field"), [
    ({"claim_id": "C", "institution_code": HOSPITAL, "lines": [{"line_id": "1", "physician_code": "D1"}]},
     "service_date"),
    (claim("D33*0802"), "physician_code"),
    (claim("D33 0802"), "physician_code"),
    (claim("D33:0802"), "physician_code"),
    (claim("医师"), "physician_code"),
    (claim("D" * 31), "physician_code"),
    (claim("D1", institution_code="H1\n"), "institution_code"),
    (claim("D1", service_date="2026-02-30"), "service_date"),
    (claim("D1", service_date="2026-11-20 25:00:00"), "service_date"),
    (claim("D1", service_date="20261120"), "service_date"),
    (claim(), "lines"),
    (claim(*["D1"] * 1001), "lines"),
])
def test_malformed_input_answers_422_naming_the_field(api: TestClient, body: dict[str, Any], field: str) -> None:
    response = api.post("/v1/claims/check", json=body)
    assert response.status_code == 422
    assert field in {str(part) for err in response.json()["detail"] for part in err["loc"]}


def test_a_body_that_is_not_json_answers_422(api: TestClient) -> None:
    response = api.post("/v1/claims/check", content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_a_body_over_one_mebibyte_answers_413(api: TestClient) -> None:
    response = api.post("/v1/claims/check", content=b" " * (1 << 20 + 1),
                        headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_a_thousand_lines_are_accepted(api: TestClient) -> None:
    answer = api.post("/v1/claims/check", json=claim(*["D330802000001"] * 1000)).json()
    assert len(answer["lines"]) == 1000


def test_physician_status_explains_the_state_with_articles(api: TestClient) -> None:
    body = api.get("/v1/physicians/D330802000003", params={"institution": HOSPITAL}).json()
    assert body["known"] is True
    assert body["sanctions"][0]["action"] == "terminate"
    assert body["sanctions"][0]["article"] == "衢州 第二十一条"
    assert body["sanctions"][0]["in_force"] is True
    assert body["line"]["reason"] == "terminated"
    assert body["remaining"] == 12


def test_physician_status_of_an_unknown_code(api: TestClient) -> None:
    body = api.get("/v1/physicians/D330802000099", params={"institution": HOSPITAL}).json()
    assert (body["known"], body["line"]["reason"]) == (False, "unknown_physician")


def test_physician_status_refuses_a_malformed_code(api: TestClient) -> None:
    assert api.get("/v1/physicians/D33*").status_code == 422


def test_health_and_readiness(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["snapshot"]["version"] == 1


def test_not_ready_before_any_snapshot(settings: Settings, redis: redis.Redis) -> None:
    with client_for(settings) as api:
        assert api.get("/readyz").status_code == 503
        line = api.post("/v1/claims/check", json=claim("D330802000001")).json()["lines"][0]
    assert line["reason"] == "unverified"


def test_openapi_documents_every_field_and_reason_code(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    request = schema["components"]["schemas"]["CheckRequest"]
    assert {"claim_id", "institution_code", "service_date", "med_type", "emergency", "rescue", "lines"} <= set(
        request["properties"])
    reasons = schema["components"]["schemas"]["LineResult"]["properties"]["reason"]
    assert "institution_suspended" in str(reasons) and "emergency_exempt" in str(reasons)
    description = schema["paths"]["/v1/claims/check"]["post"]["description"]
    assert "衢州 第十四条" in description


def test_metrics_count_decisions_by_reason(api: TestClient) -> None:
    api.post("/v1/claims/check", json=claim("D330802000002"))
    text = api.get("/metrics").text
    assert 'drgate_lines_total{decision="reject",reason="suspended"} 1.0' in text
