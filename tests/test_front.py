"""The HTTP front's limits, against a real `drgate serve`: slow heads and bodies time out, a body
over the worker's budget or a connection over its cap is refused, memory stays bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fault_servers import free_port

CLAIM = (b'{"claim_id":"C-1","institution_code":"H33080200001","service_date":"2026-03-02",'
         b'"lines":[{"line_id":"1","physician_code":"D330802000001"}]}')
LIMITS = {"DRGATE_HEADER_TIMEOUT": "1", "DRGATE_BODY_TIMEOUT": "1.5", "DRGATE_MAX_CONNECTIONS": "300",
          "DRGATE_MAX_HEADER_BYTES": "8192", "DRGATE_BODY_BUFFER_BYTES": str(4 << 20), "DRGATE_KEEP_ALIVE_TIMEOUT": "2"}


@dataclass
class Served:
    port: int
    pid: int


@pytest.fixture(scope="module", name="served")
def fix_served(redis_url: str) -> Iterator[Served]:
    """One `drgate serve` worker with small limits (no snapshot needed: checks answer ``unverified``)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as var, tempfile.TemporaryFile() as log:
        env = {**os.environ, **LIMITS, "DRGATE_REDIS_URL": redis_url,
               "DRGATE_REDIS_PREFIX": f"drgate-test-{uuid.uuid4().hex[:12]}",
               "DRGATE_STORE_URL": f"sqlite:///{var}/store.db", "DRGATE_VAR_DIR": var}
        process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, log.seek(0) or log.read().decode()
                assert time.monotonic() < deadline, "drgate serve did not start"
                time.sleep(0.1)
            yield Served(port, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=20)


def _connect(served: Served) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=10)
    return sock


def _head(length: int, extra: bytes = b"") -> bytes:
    return (b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n%s\r\n" % (length, extra))


def _answer(sock: socket.socket) -> bytes:
    """What the server sends until it closes (or 10 s pass)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_body_that_stops_arriving_gets_408_and_the_connection_closes(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(_head(len(CLAIM)) + CLAIM[:20])
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"connection: close" in answer.lower()


def test_a_head_that_stops_arriving_gets_408(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\n")
        assert _answer(sock).startswith(b"HTTP/1.1 408 ")


def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    with _connect(served) as sock:
        assert _answer(sock).startswith(b"HTTP/1.1 408 ")  # and closed: _answer returned


def test_an_idle_kept_alive_connection_is_closed_quietly_after_the_keep_alive_timeout(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(_head(len(CLAIM)) + CLAIM)
        answered = time.monotonic()
        data = sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 200 "), data
        rest = _answer(sock)  # nothing more, until the close
        waited = time.monotonic() - answered
    assert rest == b""  # no 408: the connection was idle, not late
    assert 1.9 < waited < 3.5, waited  # 2 s, swept every 0.5 s


def test_a_kept_alive_connection_answers_a_request_sent_after_the_header_timeout(served: Served) -> None:
    """Idle 1.5 s (past the 1 s header timeout, within the 2 s keep-alive), then a request: its head
    is timed from its own first byte, not from the last answer."""
    with _connect(served) as sock:
        for _ in range(2):
            sock.sendall(_head(len(CLAIM)) + CLAIM)
            data = sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 200 "), data
            time.sleep(1.5)


def test_a_head_that_stops_arriving_after_a_kept_alive_answer_gets_408(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(_head(len(CLAIM)) + CLAIM)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\n")
        started = time.monotonic()
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert time.monotonic() - started < 1.9  # the header timeout (1 s), not what is left of the keep-alive


def test_a_head_begun_before_the_answer_to_the_one_before_keeps_its_header_timeout(served: Served) -> None:
    """The next request's head sent with the first request, and stopping: answered 408 at the
    header timeout (1 s, swept every 0.5 s), not closed as idle at the end of the keep-alive (2 s)."""
    with _connect(served) as sock:
        sock.sendall(_head(len(CLAIM)) + CLAIM + b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\n")
        started = time.monotonic()
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert b"HTTP/1.1 408 " in answer, answer
    assert time.monotonic() - started < 1.9


def test_a_head_trickled_byte_by_byte_is_cut_at_the_header_timeout(served: Served) -> None:
    with _connect(served) as sock:
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
    with _connect(served) as sock:
        sock.sendall(b"POST /v1/claims/check HTTP/1.1\r\nhost: t\r\nx-big: " + b"a" * 9000)
        assert _answer(sock).startswith(b"HTTP/1.1 431 ")


def test_a_declared_body_over_1_mib_gets_413_before_it_is_sent(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(_head((1 << 20) + 1))
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"over 1 MiB" in answer


def test_unfinished_bodies_past_the_budget_are_refused_with_503(served: Served) -> None:
    sockets = [_connect(served) for _ in range(5)]  # 5 x 1 MiB declared; the budget holds 4 MiB
    try:
        for sock in sockets:
            sock.sendall(_head(1 << 20) + b" " * 1000)
        answers = [_answer(sock)[:12] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert answers.count(b"HTTP/1.1 503") == 1, answers
    assert answers.count(b"HTTP/1.1 408") == 4, answers  # the others held until the body timeout


def test_a_complete_request_is_answered_beside_unfinished_ones(served: Served) -> None:
    sockets = [_connect(served) for _ in range(8)]
    try:
        for sock in sockets:
            sock.sendall(_head(1 << 20) + b" " * 1000)
        reply = httpx.post(f"http://127.0.0.1:{served.port}/v1/claims/check", content=CLAIM, timeout=5,
                           headers={"content-type": "application/json"})
        assert reply.status_code == 200
    finally:
        for sock in sockets:
            sock.close()


def test_connections_past_the_cap_get_503(served: Served) -> None:
    sockets = [_connect(served) for _ in range(300)]
    try:
        time.sleep(0.3)  # every one accepted and counted by the worker
        with _connect(served) as extra:
            assert _answer(extra).startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in sockets:
            sock.close()


def test_unfinished_bodies_do_not_grow_the_worker_and_their_memory_returns(served: Served) -> None:
    for _ in range(50):
        httpx.post(f"http://127.0.0.1:{served.port}/v1/claims/check", content=CLAIM, timeout=5)
    before = _rss_mb(served.pid)
    sockets = [_connect(served) for _ in range(250)]  # 250 x 1 MiB unfinished: 250 MB if all were held
    peak = before
    try:
        for sock in sockets:
            sock.setblocking(False)
            head, body = _head(1 << 20), b" " * ((1 << 20) - 1)
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


# The responses of one turn of the loop go out together at its end (DRGATE_COALESCE_WRITES, on by
# default): nothing is lost, reordered, mixed between connections, or held past a close.

def _claim(claim_id: str, lines: int = 1) -> bytes:
    items = ",".join(f'{{"line_id":"{i}","physician_code":"D330802000001"}}' for i in range(1, lines + 1))
    return (b'{"claim_id":"%s","institution_code":"H33080200001","service_date":"2026-03-02","lines":[%s]}'
            % (claim_id.encode(), items.encode()))


def _request(body: bytes, extra: bytes = b"") -> bytes:
    return _head(len(body), extra) + body


def _responses(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (head, body) of each response in ``data``, in order; every one whole (content-length)."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.lower().split(b"\r\n")
                          if line.startswith(b"content-length:")))
        assert len(rest) >= length, f"a response cut short: {len(rest)} of {length} bytes"
        out.append((head, rest[:length]))
        data = rest[length:]
    return out


def test_pipelined_requests_are_answered_in_order_and_the_close_comes_after_the_last(served: Served) -> None:
    ids = [f"P-{i}" for i in range(5)]
    with _connect(served) as sock:
        sock.sendall(b"".join(_request(_claim(i)) for i in ids[:-1])
                     + _request(_claim(ids[-1]), b"connection: close\r\n"))
        answers = _responses(_answer(sock))  # _answer reads until the server closes
    assert [json.loads(body)["claim_id"] for _, body in answers] == ids
    assert all(head.startswith(b"HTTP/1.1 200 ") for head, _ in answers)


def test_connections_answered_in_one_turn_each_get_their_own_answer(served: Served) -> None:
    sockets = [_connect(served) for _ in range(64)]
    try:
        for n, sock in enumerate(sockets):  # all sent before any is read: answered in the same turns
            sock.sendall(_request(_claim(f"C-{n}"), b"connection: close\r\n"))
        answers = [_responses(_answer(sock)) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert [[json.loads(body)["claim_id"] for _, body in a] for a in answers] == [[f"C-{n}"] for n in range(64)]


def test_an_answer_past_the_coalescing_bound_arrives_whole_between_small_ones(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(_request(_claim("S-1")) + _request(_claim("B-1", 1000)) +
                     _request(_claim("S-2"), b"connection: close\r\n"))
        answers = _responses(_answer(sock))
    big = json.loads(answers[1][1])
    assert len(answers[1][1]) > 64 * 1024 and len(big["lines"]) == 1000
    assert [json.loads(body)["claim_id"] for _, body in answers] == ["S-1", "B-1", "S-2"]


@pytest.mark.parametrize("coalesce", [True, False])
def test_the_front_answers_alike_with_writes_coalesced_or_at_once(coalesce: bool) -> None:
    """In process, on a real socket: the protocol's transport is wrapped only when coalescing."""
    from uvicorn.server import ServerState

    from gateway.api.front import FrontConfig, FrontLimits, FrontProtocol

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = (await receive())["body"]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    async def run() -> tuple[list[tuple[bytes, bytes]], list[str]]:
        config = FrontConfig(app, limits=FrontLimits(5, 5, 65536, 10, coalesce), log_config=None)
        config.load()
        state, protocols = ServerState(), []

        def factory() -> FrontProtocol:
            protocol = FrontProtocol(config, state, {})
            protocols.append(protocol)
            return protocol

        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(_request(b"%d" % n) for n in range(3))
                     + _request(b"x" * 200_000, b"connection: close\r\n"))
        data = await reader.read()
        writer.close()
        server.close()
        return _responses(data), [type(p.transport).__name__ for p in protocols]

    answers, transports = asyncio.run(run())
    assert [body for _, body in answers] == [b"0", b"1", b"2", b"x" * 200_000]
    assert (transports == ["_CorkedTransport"]) is coalesce, transports


def test_a_connection_whose_write_fails_does_not_hold_back_the_others() -> None:
    """The turn's writes go out connection by connection: one that raises is aborted, the rest are written."""
    from gateway.api.front import _Cork, _CorkedTransport

    class Transport(asyncio.Transport):
        def __init__(self, fail: bool) -> None:
            super().__init__()
            self.fail, self.sent, self.aborted = fail, b"", False

        def write(self, data: Any) -> None:
            if self.fail:
                raise RuntimeError("the socket is gone")
            self.sent += bytes(data)

        def is_closing(self) -> bool:
            return self.aborted

        def abort(self) -> None:
            self.aborted = True

    async def run() -> list[Transport]:
        loop = asyncio.get_running_loop()
        cork = _Cork(loop, set())
        transports = [Transport(fail=n == 1) for n in range(3)]
        for n, transport in enumerate(transports):
            _CorkedTransport(transport, cork).write(b"answer %d" % n)
        await asyncio.sleep(0)  # the end of the turn: the cork's flush has run
        await asyncio.sleep(0)
        return transports

    first, broken, last = asyncio.run(run())
    assert (first.sent, last.sent) == (b"answer 0", b"answer 2")
    assert broken.aborted and not first.aborted and not last.aborted
