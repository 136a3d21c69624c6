"""/metrics for Prometheus: per worker in-process, merged over workers with `serve --workers N`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cache.keys import Keys
from cache.reader import SnapshotCache
from cache.sync import Syncer
from gateway.app import create_app
from gateway.demo import HOSPITAL, write_demo_data
from gateway.metrics import Metrics
from gateway.settings import Settings
from rules.importer import import_files
from rules.profiles import Profile
from rules.store import Store
from tests.servers import free_port

TODAY = date.today()
CLAIM = {"claim_id": "C-1", "institution_code": HOSPITAL, "service_date": str(TODAY),
         "lines": [{"line_id": "1", "physician_code": "D330802000001"},
                   {"line_id": "2", "physician_code": "D330802000002"}]}


@pytest.fixture(name="published")
def fix_published(sqlite_store: Store, redis: redis.Redis, keys: Keys, profile: Profile, tmp_path: Path) -> None:
    import_files(sqlite_store, profile, [write_demo_data(tmp_path / "demo.jsonl", TODAY)])
    Syncer(redis, keys, sqlite_store, profile).full()


def samples(text: str) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()) if k != "pid")
            out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return out


def test_metrics_count_decisions_by_reason_and_the_cache(settings: Settings, published: None) -> None:
    with TestClient(create_app(settings)) as client:
        client.post("/v1/claims/check", json=CLAIM)
        client.post("/v1/claims/check", json=CLAIM)
        got = samples(client.get("/metrics").text)
    assert got['drgate_lines_total{decision="reject",reason="suspended"}'] == 2
    assert got['drgate_lines_total{decision="pass",reason="ok"}'] == 2
    assert got['drgate_claims_total{decision="partial"}'] == 2
    assert got["drgate_check_seconds_count"] == 2
    # Every lookup is a hit or a miss; the preload may have the records before the first claim.
    assert got["drgate_cache_misses_total"] + got["drgate_cache_hits_total"] == 4
    assert got["drgate_cache_misses_total"] <= 2
    assert got["drgate_snapshot_version"] == 1 and got["drgate_redis_up"] == 1
    assert got["drgate_snapshot_published_timestamp_seconds"] > 0
    assert got["drgate_redis_errors_total"] == 0


def test_nhsa_checks_are_counted_too(settings: Settings, published: None) -> None:
    with TestClient(create_app(settings)) as client:
        client.post("/nhsa/2204", json={
            "infno": "2204", "msgid": "m", "fixmedins_code": HOSPITAL, "mdtrtarea_admvs": "330802",
            "inf_time": f"{TODAY} 10:00:00", "input": {"feedetail": [{
                "feedetl_sn": "1", "mdtrt_id": "V", "bilg_dr_codg": "D330802000099",
                "fee_ocur_time": f"{TODAY} 10:00:00"}]}})
        got = samples(client.get("/metrics").text)
    assert got['drgate_lines_total{decision="reject",reason="unknown_physician"}'] == 1


def test_redis_errors_are_counted_once_each(keys: Keys) -> None:
    metrics, cache = Metrics(), SnapshotCache(keys)
    cache.redis_errors = 3
    metrics.render(cache)
    cache.redis_errors = 5
    assert samples(metrics.render(cache).decode())["drgate_redis_errors_total"] == 5


def _eventually(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


@pytest.mark.slow
def test_two_workers_answer_for_each_other(settings: Settings, published: None, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DRGATE_REDIS_URL": settings.redis_url_value() or "", "DRGATE_REDIS_PREFIX":
           settings.redis_prefix, "DRGATE_STORE_URL": settings.store_url_value(), "DRGATE_VAR_DIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        assert _eventually(lambda: httpx.get(f"{base}/readyz").status_code == 200)
        for _ in range(20):  # a new connection each: the kernel spreads them over both workers
            assert httpx.post(f"{base}/v1/claims/check", json=CLAIM).status_code == 200

        def all_counted() -> bool:
            got = samples(httpx.get(f"{base}/metrics").text)
            return got.get('drgate_claims_total{decision="partial"}') == 20
        assert _eventually(all_counted)
        assert list((tmp_path / "prometheus").glob("*.db"))
    finally:
        server.terminate()
        server.wait(timeout=20)
