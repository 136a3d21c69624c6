"""Throwaway redis-server processes for the tests: a three-master cluster, a primary with a sentinel.

Each server listens on a free loopback port, keeps nothing on disk (``--save ''``, no AOF) and is
stopped by the process id it was started with; the machine's Redis on 6379 is never touched.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(*, cluster: bool = False) -> int:
    """A free loopback port; for a cluster node also its bus port (port + 10000, so port <= 55535)."""
    if not cluster:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    while True:
        port = random.randrange(20_000, 45_000)
        if _free(port) and _free(port + 10_000):
            return port


def _wait_ping(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5).ping():
                return
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {port} did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.05)


@contextlib.contextmanager
def _servers(argvs: list[list[str]], workdir: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start each argv (``--port P`` in it) and wait until it answers PING; stop them by pid after."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for n, argv in enumerate(argvs):
            log = workdir / f"server-{n}.log"
            with log.open("wb") as out:
                procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT))
        for n, (argv, proc) in enumerate(zip(argvs, procs, strict=True)):
            _wait_ping(int(argv[argv.index("--port") + 1]), proc, workdir / f"server-{n}.log")
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _server_argv(port: int, workdir: Path, *extra: str) -> list[str]:
    return [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
            "--appendonly", "no", "--daemonize", "no", *extra]


@contextlib.contextmanager
def redis_cluster(workdir: Path, masters: int = 3) -> Iterator[list[int]]:
    """A cluster of ``masters`` masters, no replicas; yields their ports once every slot is served."""
    ports = [free_port(cluster=True) for _ in range(masters)]
    argvs = []
    for port in ports:
        node = workdir / f"node-{port}"
        node.mkdir(parents=True)
        argvs.append(_server_argv(port, node, "--cluster-enabled", "yes",
                                  "--cluster-config-file", str(node / "nodes.conf"), "--cluster-node-timeout", "2000"))
    with _servers(argvs, workdir):
        subprocess.run([REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 20
        while True:  # every node must agree that all 16384 slots are served
            states = [redis.Redis(host="127.0.0.1", port=p).cluster("info") for p in ports]
            if all(s["cluster_state"] == "ok" for s in states):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster did not converge: {states}")
            time.sleep(0.1)
        yield ports


@contextlib.contextmanager
def redis_sentinel(workdir: Path, service: str = "drgate") -> Iterator[tuple[int, int]]:
    """A primary and one sentinel watching it as ``service``; yields (primary port, sentinel port)."""
    primary, sentinel = free_port(), free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "sentinel.conf"
    conf.write_text(f"bind 127.0.0.1\ndir {workdir}\nsentinel monitor {service} 127.0.0.1 {primary} 1\n")
    with _servers([_server_argv(primary, workdir),
                   [REDIS_SERVER, str(conf), "--sentinel", "--port", str(sentinel)]], workdir):
        yield primary, sentinel
