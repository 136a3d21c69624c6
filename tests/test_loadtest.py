"""`make loadtest` against a local gateway: the seeded count read from it, locust's exit code kept, the knee.

Every run talks to a gateway on 127.0.0.1 that this test starts; nothing else is contacted.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from cache.keys import Keys
from cache.sync import Syncer
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.seed import seed
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SEEDED = 2000

pytestmark = pytest.mark.slow


@pytest.fixture(name="gateway")
def fix_gateway(settings: Settings, sqlite_store: Store, redis: redis.Redis, keys: Keys, profile: Profile,
                tmp_path: Path) -> Iterator[str]:
    """A gateway on 127.0.0.1 serving a store seeded with SEEDED physicians (not the default 300,000)."""
    seed(sqlite_store, SEEDED)
    Syncer(redis, keys, sqlite_store, profile).full()
    port = free_port()
    env = {**os.environ, "DRGATE_REDIS_URL": settings.redis_url_value() or "", "DRGATE_REDIS_PREFIX":
           settings.redis_prefix, "DRGATE_STORE_URL": settings.store_url_value(), "DRGATE_VAR_DIR": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz").json().get("snapshot", {}).get("complete"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def make_loadtest(host: str, out: Path, **variables: str | int | float) -> tuple[int, int, str]:
    """``make loadtest`` as an operator runs it (the venv taken as built): make's exit, locust's, the output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOADTEST_")}
    if "LOADTEST_PHYSICIANS" in variables:
        env["LOADTEST_PHYSICIANS"] = str(variables.pop("LOADTEST_PHYSICIANS"))
    args = [f"{k}={v}" for k, v in {"HOST": host, "OUT": out, "BIN": BIN, **variables}.items()]
    run = subprocess.run(["make", "-s", "-o", f"{BIN}/.installed", "loadtest", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    return run.returncode, int((out / "exit_code").read_text()), run.stdout + run.stderr


def _failures(out: Path) -> int:
    with (out / "drgate_stats.csv").open() as stats:
        total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    return int(total["Failure Count"])


def test_the_seeded_count_comes_from_the_gateway(gateway: str, tmp_path: Path) -> None:
    out = tmp_path / "ok"
    make, locust, text = make_loadtest(gateway, out, USERS=4, DURATION="10s", P99_MS=10_000, MAX_FAIL=0)
    assert (make, locust) == (0, 0), text
    assert f"{SEEDED} physicians seeded" in text
    assert _failures(out) == 0  # every decision as the seed says: none judged against 300,000


def test_a_failed_gate_keeps_locusts_exit_code(gateway: str, tmp_path: Path) -> None:
    make, locust, text = make_loadtest(gateway, tmp_path / "slow", USERS=2, DURATION="10s", P99_MS=0.0001)
    assert locust == 1 and make != 0, text
    assert "locust exit code 1" in text and "p99" in text, text


def test_a_count_that_disagrees_with_the_gateway_stops_the_run(gateway: str, tmp_path: Path) -> None:
    make, locust, text = make_loadtest(gateway, tmp_path / "wrong", USERS=2, DURATION="3s",
                                       LOADTEST_PHYSICIANS=300000)
    assert locust == 2 and make != 0, text
    assert "LOADTEST_PHYSICIANS=300000" in text and f"{SEEDED} physicians" in text


def test_the_step_profile_reports_the_knee(gateway: str, tmp_path: Path) -> None:
    out = tmp_path / "steps"
    make, locust, text = make_loadtest(gateway, out, PROFILE="step", STEP_USERS=2, STEPS=2, STEP_SECONDS=2,
                                       P99_MS=0.0001, MAX_FAIL=0)
    assert (make, locust) == (0, 0), text  # the step profile gates on failures; its p99 is the knee
    with (out / "drgate_steps.csv").open() as steps:
        rows = list(csv.DictReader(steps))
    assert [r["stage"] for r in rows] == ["ramp 1", "ramp 2", "plateau", "spike", "recovery"]
    assert [int(r["users"]) for r in rows] == [2, 4, 4, 8, 4]
    assert all(int(r["requests"]) > 0 for r in rows)
    slowest_first = min(rows, key=lambda r: float(r["requests_per_s"]))
    assert f"knee: p99 passed 0.0001 ms at {float(slowest_first['requests_per_s']):.1f} req/s" in text
