"""The benchmark's comparison apps answer on the contract, so `make bench` compares like with like."""

from __future__ import annotations

import time
from datetime import date

import pytest
import redis
from fastapi.testclient import TestClient

from bench.apps import floor, naive, raw
from bench.setup import naive_institutions_key, naive_key
from cache.codec import encode_institution, encode_physician
from gateway.api.schemas import CheckResponse
from rules.model import Agreement, InstitutionRecord, PhysicianRecord

SITE = "H33080200001"
CODE = "D330802000001"
CLAIM = {"claim_id": "C-1", "institution_code": SITE, "service_date": "2026-11-20",
         "lines": [{"line_id": "1", "physician_code": CODE}]}


def test_the_floor_answers_on_the_contract() -> None:
    with TestClient(floor.create_app()) as client:
        answer = client.post("/v1/claims/check", json=CLAIM)
    assert answer.status_code == 200
    body = CheckResponse.model_validate(answer.json())
    assert body.lines[0].ban_until is None


def test_the_raw_floor_answers_on_the_contract() -> None:
    claim = {**CLAIM, "lines": [{"line_id": str(n), "physician_code": CODE} for n in range(20)]}
    with TestClient(raw.create_app()) as client:
        answer = client.post("/v1/claims/check", json=claim)
        other = client.post("/v1/claims/check", json=claim)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = CheckResponse.model_validate(answer.json())
    assert (body.claim_id, body.decision) == ("C-1", "pass")
    assert [line.line_id for line in body.lines] == [str(n) for n in range(20)]
    assert body.lines[0].ban_until is None
    assert body.decision_id != CheckResponse.model_validate(other.json()).decision_id


def test_the_raw_floor_answers_only_the_check() -> None:
    with TestClient(raw.create_app()) as client:
        assert client.get("/v1/claims/check").status_code == 404
        assert client.post("/v1/other", json=CLAIM).status_code == 404


def test_the_naive_design_answers_on_the_contract(redis_url: str, prefix: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRGATE_REDIS_URL", redis_url)
    monkeypatch.setenv("DRGATE_REDIS_PREFIX", prefix)
    direct = redis.Redis.from_url(redis_url)
    record = PhysicianRecord(CODE, (Agreement(SITE, date(2020, 1, 1).toordinal()),))
    direct.set(naive_key(prefix, CODE), encode_physician(record))
    direct.hset(naive_institutions_key(prefix), SITE, encode_institution(InstitutionRecord(SITE)))
    try:
        with TestClient(naive.create_app()) as client:
            answer = client.post("/v1/claims/check", json=CLAIM)
        assert answer.status_code == 200, answer.text
        body = CheckResponse.model_validate(answer.json())
        assert (body.decision, body.lines[0].reason) == ("pass", "ok")
    finally:
        direct.delete(naive_key(prefix, CODE), naive_institutions_key(prefix))
        direct.close()


def test_the_spun_floor_answers_as_the_floor_after_its_added_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.apps import spin

    monkeypatch.setenv("BENCH_SPIN_US", "2000")
    with TestClient(spin.create_app()) as client:
        started = time.perf_counter()
        answers = [client.post("/v1/claims/check", json=CLAIM) for _ in range(5)]
        taken = time.perf_counter() - started
    assert all(a.status_code == 200 for a in answers)
    assert CheckResponse.model_validate(answers[0].json()).decision == "pass"
    assert taken >= 5 * 0.002  # each request spent its 2 ms before the floor's work


def test_the_budget_is_read_where_the_ratio_crosses_the_target() -> None:
    from bench.budget import _crossing

    points = [(0.0, 1.0), (10.0, 0.7), (20.0, 0.5)]
    assert _crossing(points, 0.6) == pytest.approx(15.0)
    assert _crossing(points, 0.4) is None  # not reached within the spins measured
    assert _crossing([(0.0, 1.0), (5.0, 0.59)], 0.6) == pytest.approx(5 * 0.4 / 0.41)
