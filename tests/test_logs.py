"""Log lines: JSON with timestamp, level, logger, pid and ids; every worker's; never a name or a key."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from gateway.api.auth import new_key
from gateway.app import create_app
from gateway.cli.demo import HOSPITAL, demo_rows
from gateway.cli.progress import progress_bar
from gateway.observe.logs import JsonFormatter, StderrHandler, TextFormatter
from gateway.settings import Settings
from tests.servers import free_port

TODAY = date.today()
CLAIM = {"claim_id": "C-1", "institution_code": HOSPITAL, "service_date": str(TODAY),
         "lines": [{"line_id": "1", "physician_code": "D330802000001"}]}


@pytest.fixture(name="access_lines")
def fix_access_lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("drgate.access")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)
    logger.setLevel(level)


def _lines(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


def test_the_request_id_is_taken_returned_and_logged_with_the_decision_id(
        settings: Settings, published: None, access_lines: io.StringIO) -> None:
    with TestClient(create_app(settings.model_copy(update={"access_log": True}))) as client:
        answer = client.post("/v1/claims/check", json=CLAIM, headers={"X-Request-ID": "req-42"})
        made = client.post("/v1/claims/check", json=CLAIM)
        health = client.get("/healthz", headers={"X-Request-ID": "hz-1"})
        forged = client.get("/healthz", headers={"X-Request-ID": b"two words" + b"\xc3\xa9"})  # type: ignore[dict-item]
    assert answer.headers["x-request-id"] == "req-42" and health.headers["x-request-id"] == "hz-1"
    assert made.headers["x-request-id"] and made.headers["x-request-id"] != "req-42"
    assert not forged.headers["x-request-id"].startswith("two")  # not printable ASCII: replaced
    first, second, third, fourth = _lines(access_lines.getvalue())
    assert first["request_id"] == "req-42" and first["decision_id"] == answer.json()["decision_id"]
    assert first["logger"] == "drgate.access" and first["level"] == "INFO" and first["pid"] == os.getpid()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert first["msg"].startswith("POST /v1/claims/check 200 ")
    assert second["request_id"] == made.headers["x-request-id"]
    assert third["request_id"] == "hz-1" and "decision_id" not in third
    assert fourth["request_id"] == forged.headers["x-request-id"]


def test_a_refused_key_answers_with_the_request_id_too(settings: Settings, published: None) -> None:
    _, digest = new_key()
    with TestClient(create_app(settings.model_copy(update={"api_keys": (digest,)}))) as client:
        check = client.post("/v1/claims/check", json=CLAIM, headers={"X-Request-ID": "r-1"})
        status = client.get("/v1/physicians/D330802000001", headers={"X-Request-ID": "r-2"})
    assert (check.status_code, check.headers["x-request-id"]) == (401, "r-1")
    assert (status.status_code, status.headers.get_list("x-request-id")) == (401, ["r-2"])


def test_the_status_lookup_is_logged_without_the_physician_code(
        settings: Settings, published: None, access_lines: io.StringIO) -> None:
    with TestClient(create_app(settings.model_copy(update={"access_log": True}))) as client:
        client.get("/v1/physicians/D330802000001")
    (line,) = _lines(access_lines.getvalue())
    assert line["msg"].startswith("GET /v1/physicians/{code} 200 ") and "D330802000001" not in line["msg"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_lines_print_above_a_progress_bar_not_over_it(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    handler = StderrHandler()
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger("drgate.test.progress")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with progress_bar("sync: physicians", 100, enabled=True) as update:
            update(50)
            time.sleep(0.3)  # the bar is drawn
            logger.warning("halfway there")
            update(100)
    finally:
        logger.removeHandler(handler)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.getvalue()).replace("\r", "\n")
    (line,) = [line for line in plain.splitlines() if "halfway there" in line]
    assert re.match(r"\d{4}-\d\d-\d\dT\S+ WARNING drgate\.test\.progress \[pid \d+\]: halfway there$", line)


def _env(settings: Settings, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DRGATE_REDIS_URL": settings.redis_url_value() or "", "DRGATE_REDIS_PREFIX":
           settings.redis_prefix, "DRGATE_STORE_URL": settings.store_url_value(), "DRGATE_VAR_DIR": str(tmp_path),
           **extra}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the gateway did not become ready")


@pytest.mark.slow
def test_every_worker_logs_json_lines_and_none_is_lost(settings: Settings, published: None, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    env = _env(settings, tmp_path, DRGATE_LOG_FORMAT="json", DRGATE_ACCESS_LOG="true")
    with log.open("wb") as err:
        server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
                                   "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=err)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, server)
            deadline = time.monotonic() + 30  # both workers ready: each logged its start-up
            while len({line["pid"] for line in _lines(log.read_text()) if line["msg"].startswith(
                    "gateway ready")}) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            ids = [httpx.post(f"{base}/v1/claims/check", json=CLAIM).headers["x-request-id"] for _ in range(20)]
        finally:
            server.terminate()
            server.wait(timeout=20)
    lines = _lines(log.read_text())  # every line is one JSON object
    assert all({"ts", "level", "logger", "pid", "msg"} <= set(line) for line in lines)
    assert any(line["msg"].startswith("metrics of 2 workers") for line in lines)
    ready = {line["pid"] for line in lines if line["msg"].startswith("gateway ready")}
    assert len(ready) == 2 and server.pid not in ready
    checks = [line for line in lines if line["logger"] == "drgate.access" and "/v1/claims/check" in line["msg"]]
    assert sorted(line["request_id"] for line in checks) == sorted(ids)
    assert all(line["pid"] in ready for line in checks)


NAME = "欧阳测试医师"


@pytest.mark.slow
def test_no_name_and_no_key_reaches_any_log(settings: Settings, tmp_path: Path) -> None:
    key, digest = new_key()
    rows: list[Any] = [{**row, "name": NAME} if row["kind"] == "physician" else row for row in demo_rows(TODAY)]
    data = tmp_path / "named.jsonl"
    data.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(orjson.dumps({"kind": "physician", "code": "bad code!", "name": NAME}) + b"\n"
                    + orjson.dumps({"kind": "physician", "code": "D1", "name": NAME, "extra": NAME}) + b"\n")
    env = _env(settings, tmp_path, DRGATE_API_KEYS=digest, DRGATE_ACCESS_LOG="true", DRGATE_LOG_FORMAT="json")
    logs: list[str] = []

    def drgate(*argv: str) -> None:
        run = subprocess.run([sys.executable, "-m", "gateway.cli", "-v", *argv], env=env, capture_output=True,
                             text=True, timeout=120)
        logs.append(run.stderr)

    drgate("store", "init")
    drgate("store", "import", str(bad))
    drgate("store", "import", str(data))
    drgate("sync", "--full")
    drgate("sync")
    drgate("status", "D330802000001")
    port, served = free_port(), tmp_path / "serve.log"
    with served.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "-v", "serve", "--port", str(port)],
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(base, server)
            line = {"feedetl_sn": "1", "mdtrt_id": "V", "bilg_dr_codg": "D330802000002", "bilg_dr_name": NAME,
                    "fee_ocur_time": f"{TODAY} 10:00:00"}
            envelope = {"infno": "2204", "msgid": "m", "fixmedins_code": HOSPITAL, "mdtrtarea_admvs": "330802",
                        "inf_time": f"{TODAY} 10:00:00", "input": {"feedetail": [line]}}
            for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}, {"X-API-Key": key[::-1]}):
                httpx.post(f"{base}/v1/claims/check", json=CLAIM, headers=headers)
                httpx.post(f"{base}/nhsa/2204", json=envelope, headers=headers)
                httpx.post(f"{base}/nhsa/2204", json={**envelope, "input": {"feedetail": [{**line, "x": 1}]}},
                           headers=headers)
                httpx.get(f"{base}/v1/physicians/D330802000001", headers=headers)
        finally:
            server.terminate()
            server.wait(timeout=20)
    logs.append(served.read_text())
    everything = "\n".join(logs)
    assert "drgate.access" in everything and "gateway ready" in everything  # the logs were captured
    for secret in (NAME, key, key[::-1]):
        assert secret not in everything
