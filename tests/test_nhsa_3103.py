"""3103 事前事中服务反馈: the doctor's warns recorded against the decision in the decision log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from cache.keys import Keys
from gateway.app import create_app
from gateway.check.status import CHINA
from gateway.decisionlog.entries import caller_name
from gateway.formats.nhsa.envelope import read_header
from gateway.formats.nhsa.feedback import record_feedback
from gateway.settings import Settings
from tests.nhsa import SUSPENDED, analysis, encounter, envelope, gateway, order


@pytest.fixture(name="client")
def fix_client(settings: Settings, published: None) -> Iterator[TestClient]:
    yield from gateway(settings)


def feedback(client: TestClient, warns: Any, warn_type: Any = "1") -> Any:
    reply = client.post("/nhsa/3103", json=envelope("3103", {"data": {"warn_type": warn_type, "warns": warns}}))
    assert reply.status_code == 200
    return reply.json()


def log_entries(client: TestClient, redis: redis.Redis, keys: Keys) -> list[dict[str, Any]]:
    client.portal.call(client.app.state.gateway.decisions.flush)  # type: ignore[attr-defined]
    return [orjson.loads(f[b"d"]) for _, f in redis.xrange(keys.decisions)]


def test_feedback_is_recorded_against_the_decision(client: TestClient, redis: redis.Redis, keys: Keys) -> None:
    reply = client.post("/nhsa/3101", json=envelope("3101", analysis([encounter([order("1", SUSPENDED)])])))
    [result] = reply.json()["output"]["result"]
    body = feedback(client, [{"warn_rslt_id": result["jr_id"], "dspo_way": "1", "dspo_way_rea": "抢救用药，已报备"}])
    assert body["infcode"] == 0 and body["output"] == {}
    decision, note = log_entries(client, redis, keys)
    assert (decision["kind"], decision["front"], note["kind"]) == ("decision", "nhsa3101", "feedback")
    assert note["id"] == decision["id"] == result["task_id"]
    assert (note["result"], note["way"], note["reason"], note["warn_type"]) == (
        result["jr_id"], "continue", "抢救用药，已报备", "1")


def test_modify_needs_no_reason_and_one_object_stands_for_the_list(client: TestClient, redis: redis.Redis,
                                                                  keys: Keys) -> None:
    jr_id = "0123456789abcdef0123456789abcdef-1"
    assert feedback(client, {"warn_rslt_id": jr_id, "dspo_way": 2}, warn_type=2)["infcode"] == 0
    [note] = log_entries(client, redis, keys)
    assert (note["way"], note["reason"], note["warn_type"]) == ("modify", "", "2")


def test_every_feedback_entry_names_its_caller(client: TestClient, redis: redis.Redis, keys: Keys) -> None:
    """Issue 13 item 2: the caller (the API key's name, never the key) on every record, feedback too."""
    warns = [{"warn_rslt_id": f"0123456789abcdef0123456789abcdef-{n}", "dspo_way": "2"} for n in (1, 2)]
    header = read_header(orjson.dumps(envelope("3103", {"data": {"warn_type": "1", "warns": warns}})), "3103")
    app: Any = client.app
    client.portal.call(record_feedback, app.state.gateway, app.state.nhsa, header, datetime.now(CHINA), "his-1")
    assert [(n["kind"], n["caller"]) for n in log_entries(client, redis, keys)] == [("feedback", "his-1")] * 2


def test_feedback_over_http_names_the_key_that_sent_it(settings: Settings, published: None, redis: redis.Redis,
                                                      keys: Keys) -> None:
    """Through ``/nhsa/3103`` itself: the guard's caller reaches the feedback entry, never the key."""
    key = "3103-feedback-key"
    digest = hashlib.sha256(key.encode()).hexdigest()
    with TestClient(create_app(settings.model_copy(update={"api_keys": (digest,)}))) as client:
        warns = [{"warn_rslt_id": "0123456789abcdef0123456789abcdef-1", "dspo_way": "2"}]
        reply = client.post("/nhsa/3103", json=envelope("3103", {"data": {"warn_type": "1", "warns": warns}}),
                            headers={"X-API-Key": key})
        assert reply.json()["infcode"] == 0
        [note] = log_entries(client, redis, keys)
    assert (note["kind"], note["caller"]) == ("feedback", caller_name(digest))
    assert key not in orjson.dumps(note).decode()


@pytest.mark.parametrize(("warns", "warn_type", "field"), [
    ([{"warn_rslt_id": "0123456789abcdef0123456789abcdef-1", "dspo_way": "1", "dspo_way_rea": ""}], "1",
     "input.data.warns[0].dspo_way_rea"),
    ([{"warn_rslt_id": "0123456789abcdef0123456789abcdef-1", "dspo_way": "3"}], "1", "input.data.warns[0].dspo_way"),
    ([{"warn_rslt_id": "R-platform-1", "dspo_way": "2"}], "1", "input.data.warns[0].warn_rslt_id"),
    ([], "1", "input.data.warns"),
    ([{"warn_rslt_id": "0123456789abcdef0123456789abcdef-1", "dspo_way": "2"}], "5", "input.data.warn_type"),
])
def test_unreadable_feedback_is_refused_whole_naming_the_field(client: TestClient, redis: redis.Redis, keys: Keys,
                                                               warns: Any, warn_type: str, field: str) -> None:
    body = feedback(client, warns, warn_type)
    assert body["infcode"] == -1 and body["err_msg"].startswith(field + ":")
    assert log_entries(client, redis, keys) == []
