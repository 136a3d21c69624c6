"""Freshness means a working sync: every successful sync renews ``verified_at``, changes or not.

A quiet store (nothing imported) synced every 2 s with ``stale_after`` 5 s never answers `stale`;
once the syncs stop, lines turn `stale` after 5 s.  ``/readyz`` and ``/metrics`` show the last
sync's time and outcome as the gateway sees them.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from cache.errors import ShrinkRefused
from cache.keys import Keys
from cache.meta import read_meta
from cache.sync import Syncer
from gateway.app import create_app
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.seed import home_institution, institution_code, physician_code, seed

STALE_AFTER = 5.0


def claim(i: int) -> dict[str, Any]:
    return {"claim_id": f"C-{i}", "institution_code": institution_code(home_institution(i)),
            "service_date": "2026-03-02", "lines": [{"line_id": "1", "physician_code": physician_code(i)}]}


def flags(client: TestClient) -> list[str]:
    return list(client.post("/v1/claims/check", json=claim(1)).json()["lines"][0]["flags"])


def test_a_sync_with_nothing_to_change_renews_verified_at_but_not_the_publication(
    redis: redis.Redis, keys: Keys, store: Store, profile: Profile
) -> None:
    seed(store, 50)
    syncer = Syncer(redis, keys, store, profile)
    syncer.full()
    before = read_meta(redis, keys)
    time.sleep(0.01)
    result = syncer.incremental()
    after = read_meta(redis, keys)
    assert result.changed == 0
    assert {k: after[k] for k in ("id", "generation", "version", "digest", "published_at")} == {
        k: before[k] for k in ("id", "generation", "version", "digest", "published_at")}
    assert float(after["verified_ts"]) > float(before["verified_ts"])
    last = {k.decode(): v.decode() for k, v in redis.hgetall(keys.sync).items()}  # type: ignore[union-attr]
    assert last["outcome"] == "ok" and float(last["ts"]) >= float(after["verified_ts"])


@pytest.mark.slow
def test_a_quiet_store_synced_every_two_seconds_is_never_stale_and_stale_once_syncs_stop(
    redis: redis.Redis, keys: Keys, sqlite_store: Store, profile: Profile, settings: Settings
) -> None:
    seed(sqlite_store, 50)
    syncer = Syncer(redis, keys, sqlite_store, profile)
    syncer.full()
    stop = threading.Event()

    def cron() -> None:
        while not stop.wait(2.0):
            with syncer.lock(wait=5):
                syncer.incremental()

    settings = settings.model_copy(update={"stale_after": STALE_AFTER})
    with TestClient(create_app(settings)) as client:
        state = client.app.state.gateway  # type: ignore[attr-defined]
        while state.cache.snapshot is None:
            time.sleep(0.02)
        runner = threading.Thread(target=cron, daemon=True)
        runner.start()
        try:
            deadline = time.monotonic() + 3 * STALE_AFTER
            while time.monotonic() < deadline:  # three times the bound, on a store that never changes
                assert "stale" not in flags(client)
                time.sleep(0.2)
        finally:
            stop.set()
            runner.join(timeout=10)
        stopped = time.monotonic()
        assert "stale" not in flags(client)
        while "stale" not in flags(client):
            assert time.monotonic() - stopped < STALE_AFTER + 3, "lines did not turn stale"
            time.sleep(0.1)
        assert time.monotonic() - stopped > STALE_AFTER - 2.5  # not before the bound (the last sync ≤ 2 s ago)


def test_readyz_and_metrics_show_the_last_sync_and_its_outcome(
    redis: redis.Redis, keys: Keys, sqlite_store: Store, profile: Profile, settings: Settings
) -> None:
    seed(sqlite_store, 200)
    syncer = Syncer(redis, keys, sqlite_store, profile)
    syncer.full()
    with TestClient(create_app(settings)) as client:
        state = client.app.state.gateway  # type: ignore[attr-defined]
        while state.cache.snapshot is None:
            time.sleep(0.02)
        ready = client.get("/readyz").json()
        assert ready["last_sync"]["outcome"] == "ok"
        verified = ready["snapshot"]["verified_at"]
        with sqlite_store.engine.begin() as conn:  # an export that lost its agreements
            conn.exec_driver_sql("DELETE FROM agreements")
        with pytest.raises(ShrinkRefused):
            syncer.full()
        deadline = time.monotonic() + 10
        while client.get("/readyz").json()["last_sync"]["outcome"] != "shrink_refused":
            assert time.monotonic() < deadline, "the gateway did not see the failed sync"
            time.sleep(0.05)
        ready = client.get("/readyz").json()
        assert ready["snapshot"]["verified_at"] == verified  # a failed sync verifies nothing
        assert ready["last_sync"]["at"] >= verified
        text = client.get("/metrics").text
        assert re.search(r"^drgate_last_sync_success 0\.0$", text, re.M)
        assert re.search(r"^drgate_last_sync_timestamp_seconds \d", text, re.M)
        assert re.search(r"^drgate_snapshot_verified_timestamp_seconds \d", text, re.M)


def test_stale_counts_from_the_last_successful_sync(tmp_path: Path) -> None:
    from cache.snapshot_cache import Snapshot
    from gateway.check.core import Policy, decide_claim

    now = 1_000_000.0
    snapshot = Snapshot(1, 1, "", published_ts=now - 3600, physicians=0, bucket_keys=("k",), overflow_key="x",
                        institutions={}, verified_ts=now - 10, profile="quzhou-2020")
    policy = Policy({}, True, True, frozenset(), 900.0, "quzhou-2020")
    result = decide_claim(claim(1), {physician_code(1): None}, snapshot, policy, now=now)
    assert "stale" not in result.lines[0].flags  # published an hour ago, verified 10 s ago
