"""The HTTP front's writes, against a real `drgate serve` and in process: the responses of one
turn of the loop go out together at its end (``DRGATE_COALESCE_WRITES``, on by default), and
nothing is lost, reordered, mixed between connections, or held past a close."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.front_server import Served, answer_of, connect, request_head
from tests.front_server import fix_served as fix_served  # the `served` fixture


def _claim(claim_id: str, lines: int = 1) -> bytes:
    items = ",".join(f'{{"line_id":"{i}","physician_code":"D330802000001"}}' for i in range(1, lines + 1))
    return (b'{"claim_id":"%s","institution_code":"H33080200001","service_date":"2026-03-02","lines":[%s]}'
            % (claim_id.encode(), items.encode()))


def _request(body: bytes, extra: bytes = b"") -> bytes:
    return request_head(len(body), extra) + body


def _responses(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (head, body) of each response in ``data``, in order; every one whole (content-length)."""
    out = []
    while data:
        top, _, rest = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in top.lower().split(b"\r\n")
                          if line.startswith(b"content-length:")))
        assert len(rest) >= length, f"a response cut short: {len(rest)} of {length} bytes"
        out.append((top, rest[:length]))
        data = rest[length:]
    return out


def test_pipelined_requests_are_answered_in_order_and_the_close_comes_after_the_last(served: Served) -> None:
    ids = [f"P-{i}" for i in range(5)]
    with connect(served) as sock:
        sock.sendall(b"".join(_request(_claim(i)) for i in ids[:-1])
                     + _request(_claim(ids[-1]), b"connection: close\r\n"))
        answers = _responses(answer_of(sock))  # _answer reads until the server closes
    assert [json.loads(body)["claim_id"] for _, body in answers] == ids
    assert all(head.startswith(b"HTTP/1.1 200 ") for head, _ in answers)


def test_connections_answered_in_one_turn_each_get_their_ownanswer_of(served: Served) -> None:
    sockets = [connect(served) for _ in range(64)]
    try:
        for n, sock in enumerate(sockets):  # all sent before any is read: answered in the same turns
            sock.sendall(_request(_claim(f"C-{n}"), b"connection: close\r\n"))
        answers = [_responses(answer_of(sock)) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert [[json.loads(body)["claim_id"] for _, body in a] for a in answers] == [[f"C-{n}"] for n in range(64)]


def test_an_answer_past_the_coalescing_bound_arrives_whole_between_small_ones(served: Served) -> None:
    with connect(served) as sock:
        sock.sendall(_request(_claim("S-1")) + _request(_claim("B-1", 1000)) +
                     _request(_claim("S-2"), b"connection: close\r\n"))
        answers = _responses(answer_of(sock))
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
