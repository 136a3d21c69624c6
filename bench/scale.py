"""Scale figures at 1,000,000 physicians: seed + full sync time (SQLite store), Redis bytes per
physician, a worker's RSS holding the whole snapshot, an incremental sync of 1,000 changes.

Everything runs against a private redis-server started here on a free port (no persistence) and
killed at the end: the machine's Redis is shared with test suites that add and delete keys while
we measure, which made the INFO memory delta meaningless.

    python -m bench.scale [--physicians 1000000] [--var var/bench]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import redis

from bench.servers import serving
from cache.keys import Keys
from cache.sync import Syncer
from rules.profiles import load_profile
from rules.store.importer import import_files
from rules.store.scans import Store
from rules.store.seed import physician_code

__all__ = ["measure"]

PREFIX = "drgate-scale"
REDIS_SERVER = "/usr/bin/redis-server"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def private_redis() -> Iterator[str]:
    """A redis-server of our own on a free port, without persistence; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{REDIS_SERVER} did not start on port {port}") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure(var: Path, physicians: int = 1_000_000) -> list[str]:
    with private_redis() as url:
        return _measure(url, var, physicians)


def _measure(redis_url: str, var: Path, physicians: int) -> list[str]:
    client = redis.Redis.from_url(redis_url)
    db = var / "scale.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "DRGATE_REDIS_URL": redis_url, "DRGATE_REDIS_PREFIX": PREFIX,
           "DRGATE_STORE_URL": f"sqlite:///{db}", "DRGATE_STALE_AFTER": "1e9"}
    drgate = [sys.executable, "-c", "from gateway.cli.main import main; raise SystemExit(main())"]
    try:
        before = int(client.info("memory")["used_memory"])  # type: ignore[index]
        cpu = _children_cpu()
        started = time.perf_counter()
        subprocess.run([*drgate, "seed", "--physicians", str(physicians)], env=env, check=True, capture_output=True)
        seeded = time.perf_counter()
        seeded_cpu = _children_cpu()
        subprocess.run([*drgate, "sync", "--full"], env=env, check=True, capture_output=True)
        synced = time.perf_counter()
        seed_cpu, sync_cpu = seeded_cpu - cpu, _children_cpu() - seeded_cpu
        after = int(client.info("memory")["used_memory"])  # type: ignore[index]
        probe = orjson.dumps({"claim_id": "probe", "institution_code": "H33080200000", "service_date": "2026-03-02",
                              "lines": [{"line_id": "1", "physician_code": physician_code(1)}]})
        with serving("drgate", 18790, env, probe, timeout=300) as proc:
            rss = _rss_mb(proc.pid)
        store = Store(f"sqlite:///{db}")
        profile = load_profile("quzhou-2020")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "changes.jsonl"
            path.write_bytes(b"".join(orjson.dumps({
                "kind": "credit", "physician_code": physician_code(i * 997 % physicians), "level": "C",
                "effective_from": "2026-01-01"}) + b"\n" for i in range(1000)))
            import_files(store, profile, [path])
        syncer = Syncer(client, Keys(PREFIX), store, profile)
        with syncer.lock(wait=30):
            incremental = syncer.incremental()
        store.dispose()
    finally:
        client.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    per = (after - before) / physicians
    return [
        "", f"Scale, {physicians:,} physicians (SQLite store; a private redis-server, empty before the sync):", "",
        "| figure | measured | target |", "|---|---:|---:|",
        f"| `drgate seed --physicians {physicians}` | {seeded - started:.1f} s (CPU {seed_cpu:.1f} s) | |",
        f"| `drgate sync --full` | {synced - seeded:.1f} s (CPU {sync_cpu:.1f} s) | |",
        f"| seed + full sync | {synced - started:.1f} s | ≤ 20 s |",
        f"| Redis memory: INFO used_memory after the sync − before ({after - before:,} B) ÷ physicians "
        f"| {per:.1f} B | ≤ 80 B |",
        f"| gateway worker RSS, whole snapshot preloaded | {rss:.0f} MB | ≤ 400 MB |",
        f"| incremental sync of {incremental.changed:,} changed physicians | {incremental.seconds:.2f} s | ≤ 1 s |",
    ]


def _children_cpu() -> float:
    """CPU seconds (user + system) of the waited-for child processes: the CLI runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--physicians", type=int, default=1_000_000)
    parser.add_argument("--var", type=Path, default=Path("var/bench"))
    args = parser.parse_args()
    args.var.mkdir(parents=True, exist_ok=True)
    print("\n".join(measure(args.var, args.physicians)))
