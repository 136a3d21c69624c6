"""The decision log never harms the snapshot: its retention is bounded in bytes and age, it may live
in its own Redis, and the sync and /readyz warn of an eviction policy that can evict snapshot keys.

The Redis servers here are the tests' own (``redis-server --maxmemory``): a full one must not be
the machine's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from cache.eviction import eviction_warning
from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.check.core import ClaimResult, DecidedLine
from gateway.cli.main import EXIT_OK, main
from gateway.decisionlog.retention import Retention
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.seed import expected_reason, institution_code, physician_code, seed
from tests.decision_log import write
from tests.fault_servers import RedisServer

PHYSICIANS = 2000
LOG_BYTES = 2 << 20


def start_redis(workdir: Path, *config: str) -> RedisServer:
    server = RedisServer(workdir, config=("--appendonly", "no", *config))
    server.start()
    return server


@pytest.fixture(name="store")
def fix_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    seed(store, PHYSICIANS)
    yield store
    store.dispose()


def settings_for(store: Store, url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(redis_url=url, redis_prefix="drgate", store_url=store.url, var_dir=str(tmp_path / "var"),
                    decision_log_max_bytes=LOG_BYTES, **extra)


def big_claim(n: int) -> dict[str, Any]:
    """A 1,000-line claim at one institution, 30-character line ids (feedetl_sn): a ~70 KB log entry."""
    site = n % (PHYSICIANS // 200)
    lines = [{"line_id": f"FD{n:010d}{k:018d}", "physician_code": physician_code(site * 200 + k % 200)}
             for k in range(1000)]
    return {"claim_id": f"C-{n}", "institution_code": institution_code(site), "service_date": "2026-03-02",
            "lines": lines}


def snapshot_keys(client: redis.Redis, keys: Keys) -> dict[bytes, int]:
    """The snapshot's keys with their fields (the decision log's and the lock left out)."""
    log = {keys.decisions, keys.decision_slices, keys.decision_size, keys.lock}
    return {key: (client.hlen(key) if client.type(key) == b"hash" else 1)  # type: ignore[misc]
            for key in client.scan_iter(match=f"{keys.tag}:*") if key.decode() not in log}


def check_heavily(settings: Settings, claims: int) -> None:
    """``claims`` 1,000-line claims through the gateway, each answer checked line by line."""
    with TestClient(create_app(settings)) as client:
        for n in range(claims):
            answer = client.post("/v1/claims/check", json=big_claim(n)).json()
            site = n % (PHYSICIANS // 200)
            expected = [expected_reason(site * 200 + k % 200, site) for k in range(1000)]
            assert [line["reason"] for line in answer["lines"]] == expected


def stream_bytes(client: redis.Redis, keys: Keys) -> int:
    return int(client.memory_usage(keys.decisions, samples=0) or 0)


def test_heavy_logging_under_allkeys_lru_never_evicts_the_snapshot(store: Store, profile: Profile,
                                                                    tmp_path: Path) -> None:
    server = start_redis(tmp_path / "redis", "--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru")
    client = redis.Redis.from_url(server.url)
    try:
        keys = Keys("drgate")
        Syncer(client, keys, store, profile).full()
        before = snapshot_keys(client, keys)
        # ~14 MB of log through an 8 MB Redis; a near-cache of half the physicians: the rest read from Redis
        check_heavily(settings_for(store, server.url, tmp_path, cache_size=1000), 200)
        assert client.info("stats")["evicted_keys"] == 0
        assert snapshot_keys(client, keys) == before
        assert 0 < stream_bytes(client, keys) <= LOG_BYTES * 1.1
        assert Syncer(client, keys, store, profile).full().physicians == PHYSICIANS
    finally:
        client.close()
        server.stop()


def test_heavy_logging_under_noeviction_leaves_room_for_the_sync(store: Store, profile: Profile,
                                                                 tmp_path: Path) -> None:
    server = start_redis(tmp_path / "redis", "--maxmemory", "8mb", "--maxmemory-policy", "noeviction")
    client = redis.Redis.from_url(server.url)
    try:
        keys = Keys("drgate")
        Syncer(client, keys, store, profile).full()
        check_heavily(settings_for(store, server.url, tmp_path), 200)
        assert Syncer(client, keys, store, profile).full().physicians == PHYSICIANS  # no OOM
    finally:
        client.close()
        server.stop()


def test_a_decision_log_in_its_own_redis_leaves_the_snapshot_redis_untouched(store: Store, profile: Profile,
                                                                             tmp_path: Path) -> None:
    snapshot = start_redis(tmp_path / "snapshot")
    own = start_redis(tmp_path / "log")
    client, log_client = redis.Redis.from_url(snapshot.url), redis.Redis.from_url(own.url)
    try:
        keys = Keys("drgate")
        Syncer(client, keys, store, profile).full()
        before = set(client.scan_iter(match="*"))
        check_heavily(settings_for(store, snapshot.url, tmp_path, decision_log_url=own.url), 20)
        assert set(client.scan_iter(match="*")) == before
        assert log_client.xlen(keys.decisions) == 20
    finally:
        client.close()
        log_client.close()
        snapshot.stop()
        own.stop()


def result(i: int, size: int = 1) -> ClaimResult:
    lines = [DecidedLine(f"{i}-{k}", physician_code(k), "pass", "ok", None, None, [], None) for k in range(size)]
    return ClaimResult(f"C-{i}", "pass", f"id-{i}", {"version": 1, "published_at": None}, True, lines)


def test_retention_is_bounded_in_bytes(redis_url: str, redis: redis.Redis, keys: Keys) -> None:
    """3,000 entries of ~2 KB (~6 MB) into 1 MiB: the stream keeps about 1 MiB, its newest entries."""
    write(redis_url, keys, Retention(1_000_000, 1 << 20, 86400), [[result(i, 20) for i in range(j, j + 100)]
                                                                  for j in range(0, 3000, 100)])
    assert (1 << 20) * 0.85 <= stream_bytes(redis, keys) <= (1 << 20) * 1.1
    newest = redis.xrevrange(keys.decisions, count=1)[0][1][b"d"]
    assert b'"C-2999"' in newest


def test_retention_is_bounded_in_age(redis_url: str, redis: redis.Redis, keys: Keys) -> None:
    write(redis_url, keys, Retention(1_000_000, 1 << 30, 1.0), [[result(i) for i in range(50)], [], [result(50)]],
          pause=0.6)
    (only,) = redis.xrange(keys.decisions)
    assert b'"C-50"' in only[1][b"d"]


def test_retention_is_bounded_in_entries(redis_url: str, redis: redis.Redis, keys: Keys) -> None:
    write(redis_url, keys, Retention(1000, 1 << 30, 86400), [[result(i) for i in range(j, j + 500)]
                                                             for j in range(0, 5000, 500)])
    assert 990 <= redis.xlen(keys.decisions) <= 1000


def test_a_stream_without_its_ledger_is_counted_and_trimmed(redis_url: str, redis: redis.Redis,
                                                            keys: Keys) -> None:
    """A stream an older drgate wrote (no ledger): the first batch counts it and trims it to the bound."""
    for _ in range(20):
        with redis.pipeline(transaction=False) as pipe:
            for _ in range(100):
                pipe.xadd(keys.decisions, {"d": b"x" * 2000})
            pipe.execute()
    write(redis_url, keys, Retention(1_000_000, 1 << 20, 86400), [[result(0)]])
    assert stream_bytes(redis, keys) <= (1 << 20) * 1.1


# -- the eviction policy of the snapshot's Redis -----------------------------------------------


@pytest.mark.parametrize(("policy", "maxmemory", "warns"), [
    ("allkeys-lru", 1 << 30, "may evict published snapshot keys"),
    ("allkeys-random", 1 << 30, "may evict published snapshot keys"),
    ("volatile-lru", 1 << 30, "may be evicted under memory pressure"),
    ("volatile-ttl", 1 << 30, "may be evicted under memory pressure"),
    ("noeviction", 1 << 30, None),
    ("allkeys-lru", 0, None),  # no maxmemory: nothing is ever evicted
])
def test_eviction_warning_by_policy(policy: str, maxmemory: int, warns: str | None) -> None:
    warning = eviction_warning({"maxmemory_policy": policy, "maxmemory": maxmemory})
    assert (warning is None) if warns is None else (warning is not None and warns in warning)


@pytest.mark.parametrize(("policy", "warns"), [("allkeys-lru", True), ("volatile-lru", True),
                                               ("noeviction", False)])
def test_sync_warns_of_an_evicting_policy_and_exits_as_before(
    policy: str, warns: bool, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = start_redis(tmp_path / "redis", "--maxmemory", "64mb", "--maxmemory-policy", policy)
    try:
        monkeypatch.setenv("DRGATE_REDIS_URL", server.url)
        monkeypatch.setenv("DRGATE_STORE_URL", store.url)
        assert main(["sync", "--full"]) == EXIT_OK
        err = capsys.readouterr().err
        assert (f"warning: the snapshot's Redis has maxmemory-policy {policy}" in err) is warns
    finally:
        server.stop()


def test_readyz_warns_of_an_evicting_policy_and_stays_ready(store: Store, profile: Profile,
                                                            tmp_path: Path) -> None:
    server = start_redis(tmp_path / "redis", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    client = redis.Redis.from_url(server.url)
    try:
        Syncer(client, Keys("drgate"), store, profile).full()
        with TestClient(create_app(settings_for(store, server.url, tmp_path))) as gateway:
            deadline = time.monotonic() + 10
            while (r := gateway.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            body = r.json()
        assert (r.status_code, body["ready"]) == (200, True)
        assert any("allkeys-lru" in w for w in body["warnings"])
    finally:
        client.close()
        server.stop()
