"""One check for every front: the same claim through /v1, /nhsa/2204, /nhsa/3101 and ``Checker``
gets the same decision on every line, and one decision log entry per front."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from cache.keys import Keys
from gateway.app import create_app
from gateway.check.service import CheckService
from gateway.checker import Checker
from gateway.cli.demo import DEMO
from gateway.settings import Settings
from tests.claims import claim
from tests.nhsa import analysis, encounter, envelope, fee, order

CODES = list(DEMO)  # every reason the demo data gives, one line each


def _entries(redis: redis.Redis, keys: Keys) -> list[dict[str, Any]]:
    """The log's decisions, each once: the log is at-least-once (an entry the gateway spooled while
    stopping under load is written again by the next writer that starts, the Checker's here)."""
    entries: dict[str, dict[str, Any]] = {}
    for _, fields in redis.xrange(keys.decisions):
        entry = orjson.loads(fields[b"d"])
        entries.setdefault(entry["id"], entry)
    return list(entries.values())


def _through_every_front(settings: Settings, redis: redis.Redis, keys: Keys) -> tuple[list[Any], list[Any]]:
    """(answers, decision log entries) of the demo claim sent to each front in turn."""
    fees = [fee(0, code, feedetl_sn=str(n)) for n, code in enumerate(CODES, 1)]
    orders = [order(str(n), code) for n, code in enumerate(CODES, 1)]
    answers: list[Any] = []
    with TestClient(create_app(settings)) as client:
        answers.append(client.post("/v1/claims/check", json=claim(*CODES)).json())
        answers.append(client.post("/nhsa/2204", json=envelope("2204", fees)).json())
        answers.append(client.post("/nhsa/3101", json=envelope("3101", analysis([encounter(orders)]))).json())
        client.portal.call(client.app.state.gateway.decisions.flush)  # type: ignore[attr-defined]
    checker = Checker.connect(settings)
    try:
        answers.append(checker.check(claim(*CODES)))
    finally:
        checker.close()  # writes the in-process front's entry
    return answers, _entries(redis, keys)


@pytest.fixture(name="fronts")
def fix_fronts(settings: Settings, published: None, redis: redis.Redis, keys: Keys) -> tuple[list[Any], list[Any]]:
    return _through_every_front(settings, redis, keys)


def test_each_front_writes_one_decision_log_entry(fronts: tuple[list[Any], list[Any]]) -> None:
    _, entries = fronts
    assert [e["front"] for e in entries] == ["v1", "nhsa2204", "nhsa3101", "inprocess"]


def test_each_front_gets_the_same_decision_on_every_line(fronts: tuple[list[Any], list[Any]]) -> None:
    _, entries = fronts
    # line id, code, decision, reason, basis, until, ban_until, flags, would_reject (entry layout 3)
    decided = [[row[:9] for row in e["lines"]] for e in entries]
    assert [[row[3] for row in lines] for lines in decided] == [list(DEMO.values())] * 4
    assert decided[1:] == [decided[0]] * 3
    assert len({e["snapshot"] for e in entries}) == 1 and all(e["grounds"] == entries[0]["grounds"] for e in entries)


def test_each_front_answers_the_core_decision_in_its_own_words(fronts: tuple[list[Any], list[Any]]) -> None:
    (v1, upload, analysed, in_process), entries = fronts
    rejected = [line["line_id"] for line in v1["lines"] if line["decision"] == "reject"]
    assert rejected and [line.line_id for line in in_process.lines if line.decision == "reject"] == rejected
    for answer in (upload, analysed):
        named = [d["rx_id"] for r in answer["output"]["result"] for d in r["judge_result_detail_dtos"]]
        assert sorted(named) == sorted(rejected)
    assert [v1["decision_id"], upload["output"]["result"][0]["task_id"], analysed["output"]["result"][0]["task_id"],
            in_process.decision_id] == [e["id"] for e in entries]


@pytest.fixture(name="shadow")
def fix_shadow(settings: Settings) -> Settings:
    return settings.model_copy(update={"enforce": False})


def test_shadow_mode_is_applied_alike_to_every_front(shadow: Settings, published: None, redis: redis.Redis,
                                                    keys: Keys) -> None:
    (v1, upload, analysed, in_process), entries = _through_every_front(shadow, redis, keys)
    assert {line["decision"] for line in v1["lines"]} == {"pass"}
    assert {line.decision for line in in_process.lines} == {"pass"}
    assert upload["infcode"] == 0 and analysed["output"]["result"] == []
    for e in entries:
        assert {row[2] for row in e["lines"]} == {"pass"} and not e["enforced"]
        assert [row[8] or row[3] for row in e["lines"]] == list(DEMO.values())  # would_reject names each reason


def test_the_service_decides_through_the_policy_it_holds(settings: Settings, published: None) -> None:
    with TestClient(create_app(settings)) as client:
        state = client.app.state.gateway  # type: ignore[attr-defined]
        assert isinstance(state.checks, CheckService)
        assert state.policy is state.checks.policy and state.checks.decisions is state.decisions

