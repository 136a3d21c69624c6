"""Scale figures at 1,000,000 physicians: seed + full sync time (SQLite store), Redis bytes per
physician, a worker's RSS holding the whole snapshot, an incremental sync of 1,000 changes."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import redis

from bench.servers import serving
from bench.setup import cleanup
from cache.keys import Keys
from cache.sync import Syncer
from rules.importer import import_files
from rules.profiles import load_profile
from rules.seed import physician_code
from rules.store import Store

__all__ = ["measure"]

PREFIX = "drgate-scale"


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(redis_url: str, var: Path, physicians: int = 1_000_000) -> list[str]:
    client = redis.Redis.from_url(redis_url)
    db = var / "scale.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "DRGATE_REDIS_URL": redis_url, "DRGATE_REDIS_PREFIX": PREFIX,
           "DRGATE_STORE_URL": f"sqlite:///{db}", "DRGATE_STALE_AFTER": "1e9"}
    drgate = [sys.executable, "-c", "from gateway.cli import main; raise SystemExit(main())"]
    try:
        before = int(client.info("memory")["used_memory"])  # type: ignore[index]
        started = time.perf_counter()
        subprocess.run([*drgate, "seed", "--physicians", str(physicians)], env=env, check=True, capture_output=True)
        seeded = time.perf_counter()
        subprocess.run([*drgate, "sync", "--full"], env=env, check=True, capture_output=True)
        synced = time.perf_counter()
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
        cleanup(client, PREFIX, None)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    per = (after - before) / physicians
    return [
        "", f"Scale, {physicians:,} physicians (SQLite store, the machine's Redis, prefix `{PREFIX}`):", "",
        "| figure | measured | target |", "|---|---:|---:|",
        f"| `drgate seed --physicians {physicians}` | {seeded - started:.1f} s | |",
        f"| `drgate sync --full` | {synced - seeded:.1f} s | |",
        f"| seed + full sync | {synced - started:.1f} s | ≤ 20 s |",
        f"| Redis memory (INFO used_memory after − before) ÷ physicians | {per:.1f} B | ≤ 80 B |",
        f"| gateway worker RSS, whole snapshot preloaded | {rss:.0f} MB | ≤ 400 MB |",
        f"| incremental sync of {incremental.changed:,} changed physicians | {incremental.seconds:.2f} s | ≤ 1 s |",
    ]
