"""/metrics for Prometheus: per worker in-process, merged over workers with `serve --workers N`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from cache.keys import Keys
from cache.snapshot_cache import SnapshotCache
from cache.sync import Syncer
from gateway.api.auth import new_key
from gateway.app import create_app
from gateway.cli.demo import HOSPITAL, write_demo_data
from gateway.observe.metrics import Metrics
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store
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


def test_one_line_claims_count_their_line_as_longer_claims_do(settings: Settings, published: None) -> None:
    with TestClient(create_app(settings)) as client:
        for line in CLAIM["lines"]:
            for _ in range(2):
                client.post("/v1/claims/check", json={**CLAIM, "lines": [line]})
        got = samples(client.get("/metrics").text)
    assert got['drgate_lines_total{decision="reject",reason="suspended"}'] == 2
    assert got['drgate_lines_total{decision="pass",reason="ok"}'] == 2
    assert got['drgate_claims_total{decision="reject"}'] == got['drgate_claims_total{decision="pass"}'] == 2


def test_nhsa_checks_are_counted_too(settings: Settings, published: None) -> None:
    with TestClient(create_app(settings)) as client:
        client.post("/nhsa/2204", json={
            "infno": "2204", "msgid": "m", "fixmedins_code": HOSPITAL, "mdtrtarea_admvs": "330802",
            "inf_time": f"{TODAY} 10:00:00", "input": {"feedetail": [{
                "feedetl_sn": "1", "mdtrt_id": "V", "bilg_dr_codg": "D330802000099",
                "fee_ocur_time": f"{TODAY} 10:00:00"}]}})
        got = samples(client.get("/metrics").text)
    assert got['drgate_lines_total{decision="reject",reason="unknown_physician"}'] == 1


NHSA = {"infno": "2204", "msgid": "m", "fixmedins_code": HOSPITAL, "mdtrtarea_admvs": "330802",
        "inf_time": f"{TODAY} 10:00:00", "input": {"feedetail": [{
            "feedetl_sn": "1", "mdtrt_id": "V", "bilg_dr_codg": "D330802000001",
            "fee_ocur_time": f"{TODAY} 10:00:00"}]}}


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_running_totals_are_counters_named_total(settings: Settings, published: None) -> None:
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            client.post("/v1/claims/check", json=CLAIM)
        assert _eventually(lambda: samples(client.get("/metrics").text).get(
            "drgate_decision_log_written_total") == 3, timeout=10)
        families = _families(client.get("/metrics").text)
    for name in ("drgate_decision_log_written", "drgate_decision_log_dropped", "drgate_lines", "drgate_claims",
                 "drgate_refused", "drgate_auth_refused"):
        assert families[name].type == "counter", name
        assert all(s.name.endswith(("_total", "_created")) for s in families[name].samples)
    assert families["drgate_decision_log_pending"].type == "gauge"


def test_refused_requests_and_envelopes_are_counted_by_front_and_cause(settings: Settings, published: None) -> None:
    key, digest = new_key()
    guarded = settings.model_copy(update={"api_keys": (digest,)})
    with TestClient(create_app(guarded), headers={"X-API-Key": key}) as client:
        assert client.post("/v1/claims/check", json={**CLAIM, "lines": []}).status_code == 422
        big = b"x" * ((1 << 20) + 1)
        assert client.post("/v1/claims/check", content=big,
                           headers={"content-type": "application/json"}).status_code == 413
        assert client.get("/v1/physicians/no*code").status_code == 403  # a settlement key reads nothing
        assert client.post("/nhsa/2204", json={**NHSA, "input": {}}).json()["infcode"] == -1
        assert client.post("/nhsa/2204", json={**NHSA, "infno": "2301"}).json()["infcode"] == -1
        assert client.post("/nhsa/2204", json=NHSA, headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.post("/v1/claims/check", json=CLAIM).status_code == 200  # decided: not refused
        got = samples(client.get("/metrics").text)
    refused = {k: v for k, v in got.items() if k.startswith("drgate_refused_total")}
    assert refused == {
        'drgate_refused_total{cause="invalid",front="v1"}': 1,
        'drgate_refused_total{cause="forbidden",front="v1"}': 1,
        'drgate_refused_total{cause="too_large",front="v1"}': 1,
        'drgate_refused_total{cause="invalid",front="nhsa"}': 2,
        'drgate_refused_total{cause="unauthorized",front="nhsa"}': 1,
    }
    assert got["drgate_auth_refused_total"] == 1


def test_build_info_names_version_profile_enforce_and_fail_mode(settings: Settings, published: None) -> None:
    shadow = settings.model_copy(update={"enforce": False, "on_unverified": "fail_closed"})
    with TestClient(create_app(shadow)) as client:
        got = samples(client.get("/metrics").text)
    assert got[f'drgate_build_info{{enforce="false",fail_mode="fail_closed",profile="quzhou-2020",'
               f'version="{version("drgate")}"}}'] == 1


def test_redis_errors_are_counted_once_each(keys: Keys) -> None:
    metrics, cache = Metrics(), SnapshotCache(keys)
    cache.redis_errors = 3
    metrics.render(cache)
    cache.redis_errors = 5
    assert samples(metrics.render(cache).decode())["drgate_redis_errors_total"] == 5


def test_the_latency_histogram_counts_each_check_in_the_bucket_prometheus_would(keys: Keys) -> None:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from gateway.check.core import ClaimResult

    metrics, cache = Metrics(), SnapshotCache(keys)
    registry = CollectorRegistry()
    reference = Histogram("drgate_check_seconds", "reference", buckets=metrics.latency._upper_bounds[:-1],
                          registry=registry)
    result = ClaimResult("C", "pass", "id", {}, True, [])
    for seconds in (0.00005, 0.0001, 0.00010001, 0.001, 0.0049, 0.25, 0.3, 7.0):  # bounds, between, past the last
        metrics.observe(result, seconds, cache)
        reference.observe(seconds)
    got, want = samples(metrics.render(cache).decode()), samples(generate_latest(registry).decode())
    histogram = {k: v for k, v in got.items() if k.startswith("drgate_check_seconds") and "created" not in k}
    assert histogram == {k: v for k, v in want.items() if "created" not in k}
    assert histogram['drgate_check_seconds_bucket{le="0.0001"}'] == 2 and histogram["drgate_check_seconds_count"] == 8


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


def _workers(pid: int) -> set[int]:
    """uvicorn's worker processes under ``pid`` (not multiprocessing's resource tracker)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            spawned = b"spawn_main" in (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and spawned:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.slow
def test_totals_do_not_fall_when_a_worker_is_killed_and_restarted(settings: Settings, published: None,
                                                                   tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DRGATE_REDIS_URL": settings.redis_url_value() or "", "DRGATE_REDIS_PREFIX":
           settings.redis_prefix, "DRGATE_STORE_URL": settings.store_url_value(), "DRGATE_VAR_DIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        assert _eventually(lambda: httpx.get(f"{base}/readyz").status_code == 200)
        for _ in range(20):
            assert httpx.post(f"{base}/v1/claims/check", json=CLAIM).status_code == 200
        written = 'drgate_decision_log_written_total'
        assert _eventually(lambda: samples(httpx.get(f"{base}/metrics").text).get(written) == 20)
        workers = _workers(server.pid)
        assert len(workers) == 2
        victim = workers.pop()
        os.kill(victim, signal.SIGKILL)
        assert _eventually(lambda: len(_workers(server.pid) - workers) == 1)  # uvicorn started a new one
        files = tmp_path / "prometheus"
        # The new worker, once started, drops the dead one's live gauges (its redis_up) ...
        assert _eventually(lambda: not list(files.glob(f"gauge_live*_{victim}.db")))
        assert list(files.glob(f"counter_{victim}.db"))  # ... and keeps its counters: no total falls
        for _ in range(10):  # a new connection each: both workers answer
            assert samples(httpx.get(f"{base}/metrics").text)[written] == 20
    finally:
        server.terminate()
        server.wait(timeout=20)
