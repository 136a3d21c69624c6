"""Processes the fault tests start, kill and restart themselves: a redis-server on a free port.

Never the machine's Redis on 6379: a fault test owns its server from start to end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

__all__ = ["Gateway", "RedisServer", "free_port", "run_cli"]

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server of the test's own, with an append-only file so a kill loses nothing;
    ``config``: more options (``("--maxmemory", "8mb")``), after the defaults so they override them."""

    def __init__(self, workdir: Path, port: int | None = None, config: tuple[str, ...] = ()) -> None:
        self.workdir = workdir
        self.config = config
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no", *self.config],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            for _ in range(200):  # up to 10 s on a loaded machine
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.05)
            raise RuntimeError(f"redis-server on port {self.port} did not start")
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save; what the append-only file holds survives."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None


class Gateway:
    """`drgate serve` in its own process, configured by ``env``; ready once /readyz says so."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop(); a file, not a pipe, never blocks
        # Its own var dir unless given: a killed gateway's spool must not be replayed into another test's Redis
        self.var = tempfile.mkdtemp(prefix="drgate-gateway-")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from gateway.cli.main import main; raise SystemExit(main())",
             "serve", "--port", str(self.port)],
            env={**os.environ, "DRGATE_VAR_DIR": self.var, **env}, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        wait_answering(f"{self.url}/readyz", self.process, self.output, "gateway did not become ready")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()
        shutil.rmtree(self.var, ignore_errors=True)


def wait_answering(url: str, process: subprocess.Popen[bytes], output: Callable[[], str], failure: str,
                   seconds: float = 60.0) -> None:
    """Until ``url`` answers 200: fails with ``output()`` if ``process`` exits, with ``failure`` past ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, output()
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)


def run_cli(argv: list[str], env: dict[str, str]) -> None:
    """Target of a forked child: `drgate ARGV` with ``env``, exiting with its exit code."""
    import os
    import sys

    os.environ.update(env)
    from gateway.cli.main import main

    sys.exit(main(argv))
