"""Callers' API keys: with DRGATE_API_KEYS set, every check needs a valid key or gets 401."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from gateway.api.auth import digest_of, new_key
from gateway.app import create_app
from gateway.cli.main import EXIT_INPUT, EXIT_OK, main
from gateway.settings import Settings
from tests.fault_servers import free_port

KEY, DIGEST = new_key()
OTHER_KEY, OTHER_DIGEST = new_key()
CLAIM = {"claim_id": "C-1", "institution_code": "H33080200001", "service_date": "2026-03-02",
         "lines": [{"line_id": "1", "physician_code": "D330802000001"}]}


@pytest.fixture(name="client")
def fix_client(settings: Settings) -> Iterator[TestClient]:
    guarded = settings.model_copy(update={"api_keys": (OTHER_DIGEST, DIGEST)})
    with TestClient(create_app(guarded)) as client:
        yield client


@pytest.mark.parametrize("headers", [
    {},
    {"X-API-Key": "not-a-key"},
    {"X-API-Key": ""},
    {"Authorization": "Bearer not-a-key"},
    {"Authorization": f"Basic {KEY}"},
    {"X-API-Key": DIGEST},  # the digest is not the key
])
def test_a_check_without_a_valid_key_gets_401(client: TestClient, headers: dict[str, str]) -> None:
    r = client.post("/v1/claims/check", json=CLAIM, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert KEY not in r.text


@pytest.mark.parametrize("headers", [{"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"},
                                     {"authorization": f"bearer {OTHER_KEY}"}])
def test_a_check_with_a_valid_key_is_answered(client: TestClient, headers: dict[str, str]) -> None:
    assert client.post("/v1/claims/check", json=CLAIM, headers=headers).status_code == 200


def test_the_status_lookup_needs_a_key_too(client: TestClient) -> None:
    assert client.get("/v1/physicians/D330802000001").status_code == 401


@pytest.mark.parametrize("path", ["/nhsa/2204", "/nhsa/2301", "/nhsa/3101", "/nhsa/3102", "/nhsa/3103"])
def test_the_national_platform_routes_need_a_key_and_refuse_in_the_platforms_envelope(client: TestClient,
                                                                                      path: str) -> None:
    reply = client.post(path, json={"infno": path[-4:], "input": {"feedetail": []}})
    assert reply.status_code == 401
    body = reply.json()
    assert set(body) == {"infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output"}
    assert body["infcode"] == -1 and "API key" in body["err_msg"] and KEY not in reply.text


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_probes_metrics_and_the_spec_stay_open(client: TestClient, path: str) -> None:
    assert client.get(path).status_code in (200, 503)  # readyz: 503 until a snapshot is held


def test_refusals_are_counted_and_keys_never_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/claims/check", json=CLAIM, headers={"X-API-Key": "wrong-" + KEY})
        client.post("/v1/claims/check", json=CLAIM, headers={"X-API-Key": KEY})
    assert "drgate_auth_refused_total 1.0" in client.get("/metrics").text
    assert KEY not in caplog.text


def test_the_spec_declares_the_keys_and_the_401(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["components"]["securitySchemes"]) == {"ApiKey", "Bearer"}
    operation = spec["paths"]["/v1/claims/check"]["post"]
    assert "401" in operation["responses"] and operation["security"]
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_without_keys_configured_checks_are_open(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/claims/check", json=CLAIM).status_code == 200


def test_settings_take_digests_not_keys() -> None:
    assert Settings(api_keys=f"{DIGEST.upper()}, {OTHER_DIGEST}").api_keys == (DIGEST, OTHER_DIGEST)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="entry 2 is not a SHA-256 hex digest") as refused:
        Settings(api_keys=f"{DIGEST},{KEY}")  # type: ignore[arg-type]
    assert KEY not in str(refused.value)


def test_cli_prints_a_key_and_its_digest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-key"]) == EXIT_OK
    out = capsys.readouterr().out.split()
    key, digest = out[out.index("shown") + 2], out[-1]  # "…shown once): KEY" / "…API_KEYS: DIGEST"
    assert digest_of(key) == digest


def test_cli_refuses_a_key_in_place_of_a_digest_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRGATE_API_KEYS", KEY)
    assert main(["api-key"]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "not a SHA-256 hex digest" in err and KEY not in err


@pytest.fixture(name="under_root_path")
def fix_under_root_path(settings: Settings) -> Iterator[str]:
    """A real uvicorn serving the guarded gateway with ``--root-path /gw``, as behind a proxy that
    strips ``/gw``: uvicorn gives the application ``path`` ``/gw/v1/…``.  Yields its base URL."""
    guarded = settings.model_copy(update={"api_keys": (DIGEST,)})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(guarded), host="127.0.0.1", port=port, root_path="/gw",
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "uvicorn did not start"
            threading.Event().wait(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# What the proxy forwards of /gw/v1/claims/check, /gw/nhsa/2204: the prefix stripped.
@pytest.mark.parametrize("path", ["/v1/claims/check", "/nhsa/2204"])
def test_under_a_root_path_an_unkeyed_request_gets_401(under_root_path: str, path: str) -> None:
    assert httpx.post(under_root_path + path, json=CLAIM, timeout=10).status_code == 401


def test_under_a_root_path_the_status_lookup_needs_a_key(under_root_path: str) -> None:
    assert httpx.get(f"{under_root_path}/v1/physicians/D330802000001", timeout=10).status_code == 401


def test_under_a_root_path_a_keyed_check_is_answered(under_root_path: str) -> None:
    reply = httpx.post(f"{under_root_path}/v1/claims/check", json=CLAIM, headers={"X-API-Key": KEY}, timeout=10)
    assert reply.status_code == 200 and reply.json()["lines"][0]["line_id"] == "1"


def test_under_a_root_path_probes_stay_open(under_root_path: str) -> None:
    assert httpx.get(f"{under_root_path}/healthz", timeout=10).status_code == 200
