"""The HTTP front's limits, against a real `drgate serve`: slow heads and bodies time out, an idle
kept-alive connection is closed, a body over the worker's budget or a connection over its cap is
refused, memory stays bounded; its writes: tests/test_front_writes.py."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.fault_servers import free_port
from tests.front_server import CLAIM, Served, answer_of, connect, request_head
from tests.front_server import fix_served as fix_served  # the `served` fixture


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_body_that_stops_arriving_gets_408_and_the_connection_closes(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(request_head(len(CLAIM)) + CLAIM[:20])
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in answer.lower()


def test_a_head_that_stops_arriving_gets_408(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\n")
        assert answer_of(sock).startswith(b"HTTP/1.1 408 ")


def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    with connect(served) as sock:
        assert answer_of(sock).startswith(b"HTTP/1.1 408 ")  # and closed: answer_of returned


def test_an_idle_kept_alive_connection_is_closed_quietly_after_the_keep_alive_timeout(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(request_head(len(CLAIM)) + CLAIM)
        answered = time.monotonic()
        data = sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 200 "), data
        rest = answer_of(sock)  # nothing more, until the close
        waited = time.monotonic() - answered
    assert rest == b""  # no 408: the connection was idle, not late
    assert 1.9 < waited < 3.5, waited  # 2 s, swept every 0.5 s


def test_a_kept_alive_connection_answers_a_request_sent_after_the_header_timeout(served: Served) -> None:
    """Idle 1.5 s (past the 1 s header timeout, within the 2 s keep-alive), then a request: its head
    is timed from its own first byte, not from the last answer."""
    with connect(served) as sock:
        for _ in range(2):
            sock.sendall(request_head(len(CLAIM)) + CLAIM)
            data = sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200 "), data
            time.sleep(1.5)


def test_a_head_that_stops_arriving_after_a_kept_alive_answer_gets_408(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(request_head(len(CLAIM)) + CLAIM)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\n")
        started = time.monotonic()
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert time.monotonic() - started < 1.9  # the header timeout (1 s), not what is left of the keep-alive


def test_a_head_begun_before_the_answer_to_the_one_before_keeps_its_header_timeout(served: Served) -> None:
    """The next request's head sent with the first request, and stopping: answered 408 at the
    header timeout (1 s, swept every 0.5 s), not closed as idle at the end of the keep-alive (2 s)."""
    with connect(served) as sock:
        sock.sendall(request_head(len(CLAIM)) + CLAIM + b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\n")
        started = time.monotonic()
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert b"HTTP/1.1 408 " in answer, answer
    assert time.monotonic() - started < 1.9


def test_a_head_trickled_byte_by_byte_is_cut_at_the_header_timeout(served: Served) -> None:
    with connect(served) as sock:
        started = time.monotonic()
        sock.settimeout(0.2)
        answer = b""
        for byte in b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\nx-slow: " + b"a" * 100:
            try:
                sock.send(bytes([byte]))
                answer = sock.recv(65536)
            except (TimeoutError, BlockingIOError):
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer:
                break
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        assert time.monotonic() - started < 10


def test_a_head_over_the_limit_gets_431(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\nx-big: " + b"a" * 9000)
        assert answer_of(sock).startswith(b"HTTP/1.1 431 ")


def test_a_declared_body_over_1_mib_gets_413_before_it_is_sent(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(request_head((1 << 20) + 1))
        answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"over 1 MiB" in answer


def test_unfinished_bodies_past_the_budget_are_refused_with_503(served: Served) -> None:
    sockets = [connect(served) for _ in range(5)]  # 5 x 1 MiB declared; the budget holds 4 MiB
    try:
        for sock in sockets:
            sock.sendall(request_head(1 << 20) + b" " * 1000)
        answers = [answer_of(sock)[:12] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert answers.count(b"HTTP/1.1 503") == 1, answers
    assert answers.count(b"HTTP/1.1 408") == 4, answers  # the others held until the body timeout


def test_a_complete_request_is_answered_beside_unfinished_ones(served: Served) -> None:
    sockets = [connect(served) for _ in range(8)]
    try:
        for sock in sockets:
            sock.sendall(request_head(1 << 20) + b" " * 1000)
        reply = httpx.post(f"http://127.0.0.1:{served.port}/v1/claims/check", content=CLAIM, timeout=5,
                           headers={"content-type": "application/json"})
        assert reply.status_code == 200
    finally:
        for sock in sockets:
            sock.close()


def test_connections_past_the_cap_get_503(served: Served) -> None:
    sockets = [connect(served) for _ in range(300)]
    try:
        time.sleep(0.3)  # every one accepted and counted by the worker
        with connect(served) as extra:
            assert answer_of(extra).startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in sockets:
            sock.close()


def test_unfinished_bodies_do_not_grow_the_worker_and_their_memory_returns(served: Served) -> None:
    for _ in range(50):
        httpx.post(f"http://127.0.0.1:{served.port}/v1/claims/check", content=CLAIM, timeout=5)
    before = _rss_mb(served.pid)
    sockets = [connect(served) for _ in range(250)]  # 250 x 1 MiB unfinished: 250 MB if all were held
    peak = before
    try:
        for sock in sockets:
            sock.setblocking(False)
            head, body = request_head(1 << 20), b" " * ((1 << 20) - 1)
            with contextlib.suppress(BlockingIOError):
                sock.send(head + body)
        for _ in range(10):
            peak = max(peak, _rss_mb(served.pid))
            time.sleep(0.1)
    finally:
        for sock in sockets:
            sock.close()
    time.sleep(2.5)  # past the body timeout: every connection gone
    after = _rss_mb(served.pid)
    assert peak - before < 40, (before, peak)
    assert after - before < 20, (before, after)


def test_serve_under_a_root_path_names_it_in_every_page(redis_url: str) -> None:
    """`drgate serve --root-path /gw`, behind a proxy that strips /gw: requests come without it,
    and the workbench's redirects carry it, as the browser knows only /gw/..."""
    port = free_port()
    with tempfile.TemporaryDirectory() as var, tempfile.TemporaryFile() as log:
        env = {**os.environ, "DRGATE_REDIS_URL": redis_url,
               "DRGATE_REDIS_PREFIX": f"drgate-test-{uuid.uuid4().hex[:12]}",
               "DRGATE_STORE_URL": f"sqlite:///{var}/store.db", "DRGATE_VAR_DIR": var}
        process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
                                    "--root-path", "/gw"], env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                assert process.poll() is None, log.seek(0) or log.read().decode()
                assert time.monotonic() < deadline, "drgate serve did not start"
                time.sleep(0.1)
            check = httpx.post(f"http://127.0.0.1:{port}/v1/claims/check", content=CLAIM,
                               headers={"content-type": "application/json"}, timeout=5)
            assert check.status_code == 200 and check.json()["claim_id"] == "C-1"
            ui = httpx.get(f"http://127.0.0.1:{port}/ui/", timeout=5, follow_redirects=False)
            assert ui.headers["location"] == "/gw/ui/login"
        finally:
            process.terminate()
            process.wait(timeout=20)


@pytest.mark.parametrize("prefix", ["gw", "/gw/", "/g w"])
def test_serve_refuses_a_root_path_that_is_not_one(prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli.main import main

    assert main(["serve", "--root-path", prefix]) == 2
    assert "bad configuration" in capsys.readouterr().err

