"""Slow clients against one `drgate serve` worker: its RSS before, during and after.

    python -m bench.slowclients [--clients 1500] [--body 1048576] [--hold 8]

Starts `drgate serve` (one worker) on 127.0.0.1 with a store of its own under a temporary
folder and the Redis of ``DRGATE_REDIS_URL`` (default ``redis://127.0.0.1:6379/9``, its own key
prefix; nothing is written there but what a gateway reads).  Then ``--clients`` connections each
send the head of a ``--body``-byte claim and all of its body but the last byte, and hold the
connection ``--hold`` seconds: unfinished bodies.  The worker's RSS (``/proc/PID/status``) is
read before, at its peak while they hold, and ``--settle`` seconds after they have gone; the
answers they got are counted.  Everything is bounded in time (``--deadline``).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

__all__ = ["main"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def _check(port: int) -> int:
    body = b'{"claim_id":"C","institution_code":"H33080200001","service_date":"2026-03-02",' \
           b'"lines":[{"line_id":"1","physician_code":"D330802000001"}]}'
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", "/v1/claims/check", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


async def _slow_client(port: int, body: int, hold: float, answers: Counter[str]) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        answers[f"connect failed: {type(exc).__name__}"] += 1
        return
    head = (b"POST /v1/claims/check HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % body)
    chunk = b" " * 65536
    try:
        writer.write(head)
        left = body - 1  # everything but the last byte: the body never completes
        while left > 0:
            writer.write(chunk[:left])
            left -= min(left, len(chunk))
            await writer.drain()
        status = await asyncio.wait_for(reader.readline(), hold)
        answers[status.decode(errors="replace").strip() or "closed without an answer"] += 1
    except TimeoutError:
        answers["still held"] += 1
    except OSError as exc:
        answers[f"closed: {type(exc).__name__}"] += 1
    finally:
        writer.close()


async def _load(pid: int, port: int, clients: int, body: int, hold: float) -> tuple[float, Counter[str]]:
    answers: Counter[str] = Counter()
    tasks = [asyncio.create_task(_slow_client(port, body, hold, answers)) for _ in range(clients)]
    peak = 0.0
    while not all(t.done() for t in tasks):
        peak = max(peak, rss_mb(pid))
        await asyncio.sleep(0.1)
    return max(peak, rss_mb(pid)), answers


def _raise_fd_limit(wanted: int) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=1500)
    p.add_argument("--body", type=int, default=1 << 20, help="declared body size, bytes")
    p.add_argument("--hold", type=float, default=8.0, help="seconds each client holds its connection")
    p.add_argument("--settle", type=float, default=3.0, help="seconds after they go before the last reading")
    p.add_argument("--deadline", type=float, default=120.0, help="give up after this many seconds")
    args = p.parse_args(argv)
    _raise_fd_limit(2 * args.clients + 256)  # the clients' sockets here, the server's (inherited) there
    port = _free_port()
    with tempfile.TemporaryDirectory() as var:
        env = {**os.environ, "DRGATE_REDIS_URL": os.environ.get("DRGATE_REDIS_URL", "redis://127.0.0.1:6379/9"),
               "DRGATE_REDIS_PREFIX": f"drgate-slowclients-{uuid.uuid4().hex[:8]}",
               "DRGATE_STORE_URL": f"sqlite:///{var}/store.db", "DRGATE_VAR_DIR": var}
        server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            return _measure(server, port, args)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def _measure(server: subprocess.Popen[bytes], port: int, args: argparse.Namespace) -> int:
    started = time.monotonic()
    while True:
        try:
            if _get(port, "/healthz") == 200:
                break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() - started > 30:
            why = server.stderr.read().decode() if server.stderr else ""
            print("drgate serve did not start:", why, file=sys.stderr)
            return 1
        time.sleep(0.1)
    for _ in range(200):  # warm: the first checks allocate what every later one reuses
        _check(port)
    time.sleep(0.5)
    before = rss_mb(server.pid)
    loaded = time.monotonic()
    peak, answers = asyncio.run(asyncio.wait_for(
        _load(server.pid, port, args.clients, args.body, args.hold), args.deadline))
    held = time.monotonic() - loaded
    time.sleep(args.settle)
    after = rss_mb(server.pid)
    served = _check(port)
    print(f"{args.clients} clients, {args.body} B bodies unfinished, held up to {args.hold:.0f} s "
          f"(took {held:.1f} s): RSS {before:.0f} MB before, {peak:.0f} MB peak (+{peak - before:.0f}), "
          f"{after:.0f} MB {args.settle:.0f} s after they went ({after - before:+.0f}); a check after: {served}")
    for answer, n in answers.most_common():
        print(f"  {n:5d}  {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
