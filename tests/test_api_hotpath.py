"""The claim check served ahead of FastAPI (gateway.api.hotpath): same answers, limits and errors as
the FastAPI route it stands in for, which still answers the check under any other path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from gateway.api.hotpath import GatewayApp
from gateway.api.v1 import CHECK_PATH, MAX_BODY
from gateway.cli.demo import DEMO
from gateway.settings import Settings
from tests.claims import claim, client_for, publish_demo


@pytest.fixture(name="api")
def fix_api(settings: Settings, tmp_path: Path, redis: redis.Redis) -> Iterator[TestClient]:
    publish_demo(settings, tmp_path)
    with client_for(settings) as client:
        yield client


def call(api: TestClient, messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None,
         method: str = "POST") -> list[dict[str, Any]]:
    """One request straight through ASGI, the body in the given messages: what was sent back.
    Run on the test client's event loop, where the gateway's Redis client and tasks live."""
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": CHECK_PATH, "raw_path": CHECK_PATH.encode(), "query_string": b"",
             "root_path": "", "headers": headers or [(b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}
    assert api.portal is not None
    api.portal.call(api.app, scope, receive, send)
    return sent


def test_the_hot_path_and_the_fastapi_route_give_the_same_answer(api: TestClient) -> None:
    body = claim(*DEMO)
    hot = api.post(CHECK_PATH, json=body)
    app: GatewayApp = api.app  # type: ignore[assignment]
    check, app.check = app.check, None  # FastAPI's own route for the check
    try:
        routed = api.post(CHECK_PATH, json=body)
    finally:
        app.check = check
    assert hot.status_code == routed.status_code == 200
    assert hot.headers["content-type"] == "application/json"
    assert int(hot.headers["content-length"]) == len(hot.content)
    first, second = hot.json(), routed.json()
    assert first.pop("decision_id") != second.pop("decision_id")
    assert first == second
    assert [line["reason"] for line in first["lines"]] == list(DEMO.values())


def test_other_methods_go_to_fastapi(api: TestClient) -> None:
    assert api.get(CHECK_PATH).status_code == 405


def test_a_body_in_several_messages_is_put_together(api: TestClient) -> None:
    body = orjson.dumps(claim(*DEMO))
    parts = [body[:10], body[10:50], body[50:]]
    sent = call(api, [{"type": "http.request", "body": p, "more_body": i < 2}
                          for i, p in enumerate(parts)])
    assert sent[0]["status"] == 200
    assert len(orjson.loads(sent[1]["body"])["lines"]) == len(DEMO)


def test_a_streamed_body_over_the_limit_answers_413_without_a_length(api: TestClient) -> None:
    chunk = b" " * (256 * 1024)
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for _ in range(MAX_BODY // len(chunk) + 1)]
    sent = call(api, messages)
    assert sent[0]["status"] == 413


def test_a_declared_length_over_the_limit_answers_413_before_reading(api: TestClient) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(MAX_BODY + 1).encode())]
    sent = call(api, [], headers)  # receive() is never needed
    assert sent[0]["status"] == 413


def test_a_client_gone_mid_body_gets_no_answer_and_breaks_nothing(api: TestClient) -> None:
    sent = call(api, [{"type": "http.request", "body": b'{"claim_id"', "more_body": True}])
    assert sent == []
    assert api.post(CHECK_PATH, json=claim(*DEMO)).status_code == 200


def test_an_unexpected_error_answers_500_and_is_logged(api: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    state = api.app.state.gateway  # type: ignore[attr-defined]
    policy, state.checks.policy = state.checks.policy, None  # a bug's stand-in: deciding fails
    try:
        answer = api.post(CHECK_PATH, json=claim(*DEMO))
    finally:
        state.checks.policy = policy
    assert answer.status_code == 500
    assert "internal error" in answer.json()["detail"]
    assert "claim check failed" in caplog.text
    assert api.post(CHECK_PATH, json=claim(*DEMO)).status_code == 200
