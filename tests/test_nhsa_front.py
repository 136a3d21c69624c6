"""drgate in front of the platform (DRGATE_NHSA_UPSTREAM): a real local HTTP server stands in for it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from gateway.settings import Settings
from tests.nhsa import ENVELOPE_FIELDS, OK, SUSPENDED, UNKNOWN, envelope, fee, gateway, inpatient
from tests.platform_stub import Platform, platform
from tests.servers import free_port


@pytest.fixture(name="upstream")
def fix_upstream() -> Iterator[Platform]:
    with platform() as stub:
        yield stub


@pytest.fixture(name="client")
def fix_client(settings: Settings, published: None, upstream: Platform) -> Iterator[TestClient]:
    yield from gateway(settings.model_copy(update={"nhsa_upstream": upstream.url, "nhsa_upstream_timeout": 1.0}))


def raw(infno: str, lines: list[dict[str, object]]) -> bytes:
    return orjson.dumps(envelope(infno, lines))


@pytest.mark.parametrize("infno", ["2204", "2301"])
def test_an_upload_that_passes_is_forwarded_unchanged_and_the_answer_returned_unchanged(
        client: TestClient, upstream: Platform, infno: str) -> None:
    upstream.answer = '{"infcode":0,"output":{"result":[{"feedetl_sn":"1","selfpay_prop":0.1}]},"x":"平台"}'.encode()
    body = raw(infno, [inpatient(1, OK), inpatient(2, SUSPENDED, "13")])  # the second is exempt (急诊)
    reply = client.post(f"/nhsa/{infno}", content=body,
                        headers={"content-type": "application/json", "x-tif-signature": "sig-1"})
    [(path, sent, headers)] = upstream.received
    assert path == f"/fsi/api/{infno}" and sent == body
    assert headers["x-tif-signature"] == "sig-1" and "x-api-key" not in headers
    assert reply.status_code == 200 and reply.content == upstream.answer
    assert reply.headers["content-type"] == "application/json;charset=UTF-8"
    assert reply.headers["x-request-id"] == "platform-trace-1"


def test_the_platforms_status_comes_back_too(client: TestClient, upstream: Platform) -> None:
    upstream.status, upstream.answer = 503, b'{"infcode":-1,"err_msg":"busy"}'
    reply = client.post("/nhsa/2204", content=raw("2204", [fee(1, OK)]), headers={"content-type": "application/json"})
    assert (reply.status_code, reply.content) == (503, upstream.answer)


def test_an_upload_with_a_rejected_line_is_not_forwarded(client: TestClient, upstream: Platform) -> None:
    reply = client.post("/nhsa/2204", content=raw("2204", [fee(1, OK), fee(2, UNKNOWN)]))
    body = reply.json()
    assert upstream.received == []
    assert body["infcode"] == -1 and fee(2, OK)["feedetl_sn"] in body["err_msg"] and len(body["err_msg"]) <= 200
    assert [r["rule_id"] for r in body["output"]["result"]] == ["DRGATE-02"]


def test_a_slow_platform_gets_the_platforms_failure_envelope_after_the_timeout(client: TestClient,
                                                                                upstream: Platform) -> None:
    upstream.delay = 3.0
    started = time.monotonic()
    reply = client.post("/nhsa/2204", content=raw("2204", [fee(1, OK)]))
    assert time.monotonic() - started < 2.5  # the 1 s timeout, not the platform's 3 s
    body = reply.json()
    assert set(body) == ENVELOPE_FIELDS and body["infcode"] == -1 and "timeout" in body["err_msg"]


def test_a_platform_that_is_down_gets_the_failure_envelope(settings: Settings, published: None) -> None:
    down = f"http://127.0.0.1:{free_port()}/fsi/api"
    for client in gateway(settings.model_copy(update={"nhsa_upstream": down, "nhsa_upstream_timeout": 1.0})):
        body = client.post("/nhsa/2204", content=raw("2204", [fee(1, OK)])).json()
    assert body["infcode"] == -1 and "unreachable" in body["err_msg"]


def test_3101_is_answered_by_drgate_even_with_an_upstream(client: TestClient, upstream: Platform) -> None:
    from tests.nhsa import analysis, encounter, order

    body = client.post("/nhsa/3101", json=envelope("3101", analysis([encounter([order("1", SUSPENDED)])]))).json()
    assert upstream.received == [] and [r["rule_id"] for r in body["output"]["result"]] == ["DRGATE-05"]
