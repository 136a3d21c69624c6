"""Redis down under load: every request answered from the snapshot held (`stale`) or by policy
(`unverified`), no 5xx, and the gateway reconnects by itself.  A real redis-server, started,
SIGKILLed and restarted by the test; a real gateway process."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from cache.keys import Keys
from cache.sync import Syncer
from gateway.app import create_app
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.seed import expected_reason, home_institution, institution_code, physician_code, seed
from tests.fault_servers import Gateway, RedisServer

N = 600
WARM = range(0, 200)  # read before the outage: held in the gateway's near-cache
COLD = range(300, 600)  # never read before the outage
DAY = "2026-03-02"


def claim(i: int) -> dict[str, Any]:
    return {"claim_id": f"C-{i}", "institution_code": institution_code(home_institution(i)), "service_date": DAY,
            "lines": [{"line_id": "1", "physician_code": physician_code(i)}]}


@pytest.fixture(name="own_redis")
def fix_own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture(name="published")
def fix_published(own_redis: RedisServer, sqlite_store: Store, profile: Profile) -> Keys:
    seed(sqlite_store, N)
    keys = Keys("drgate-outage")
    client = redis.Redis.from_url(own_redis.url)
    Syncer(client, keys, sqlite_store, profile).full()
    client.close()
    return keys


class Load(threading.Thread):
    """Claims one after another, round the warm physicians, and the cold ones once ``cold`` is set."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=url, timeout=5)
        self.stop = threading.Event()
        self.cold = threading.Event()
        self.answers: list[tuple[float, float, int, int, dict[str, Any] | None]] = []

    def run(self) -> None:
        codes = [*WARM, *COLD]
        n = 0
        while not self.stop.is_set():
            i = codes[n % len(codes)]
            n += 1
            if i in COLD and not self.cold.is_set():
                continue
            sent = time.monotonic()
            try:
                r = self.client.post("/v1/claims/check", json=claim(i))
                body = r.json() if r.status_code == 200 else None
                self.answers.append((sent, time.monotonic() - sent, i, r.status_code, body))
            except httpx.TransportError:
                self.answers.append((sent, time.monotonic() - sent, i, 599, None))
        self.client.close()


@pytest.mark.slow
def test_gateway_answers_through_a_redis_outage_and_reconnects(
    own_redis: RedisServer, published: Keys, sqlite_store: Store
) -> None:
    # No preload: the worker holds only the records it has read (WARM), as when the registry is larger
    # than DRGATE_CACHE_SIZE; the others must get the fail policy during the outage.
    gateway = Gateway({"DRGATE_REDIS_URL": own_redis.url, "DRGATE_REDIS_PREFIX": "drgate-outage",
                       "DRGATE_STORE_URL": sqlite_store.url, "DRGATE_ON_UNVERIFIED": "fail_open",
                       "DRGATE_PRELOAD": "false"})
    try:
        with httpx.Client(base_url=gateway.url, timeout=5) as client:
            for i in WARM:  # fill the near-cache
                line = client.post("/v1/claims/check", json=claim(i)).json()["lines"][0]
                assert line["reason"] == expected_reason(i) and "stale" not in line["flags"]
        load = Load(gateway.url)
        load.start()
        time.sleep(1.0)
        killed = time.monotonic()
        own_redis.kill()
        load.cold.set()
        time.sleep(10.0)
        restarted = time.monotonic()
        own_redis.start()
        deadline = time.monotonic() + 30
        back = None
        while back is None and time.monotonic() < deadline:
            time.sleep(0.05)
            for sent, _, i, _status, body in list(load.answers):
                if sent > restarted and i in COLD and body and body["lines"][0]["reason"] != "unverified":
                    back = sent - restarted
                    break
        time.sleep(1.0)
        load.stop.set()
        load.join(timeout=10)
    finally:
        gateway.stop()

    assert back is not None, "the gateway did not reconnect"
    statuses = {status for *_, status, _ in load.answers}
    assert statuses == {200}  # no 5xx, no refused connection: every request answered
    during = [(lat, i, body) for sent, lat, i, _, body in load.answers if killed + 0.5 < sent < restarted]
    assert len(during) > 50
    for _, i, body in during:
        line = body["lines"][0]
        assert "stale" in line["flags"]
        if i in WARM:  # from the snapshot held
            assert line["reason"] == expected_reason(i)
        else:  # fail_open: pass, reason unverified
            assert (line["decision"], line["reason"]) == ("pass", "unverified")
    # Back means back: no answer after the first fresh one falls into `unverified` again (a pooled
    # connection left over from the dead Redis must not knock the gateway down once more).
    after = [(i, body) for sent, _, i, _, body in load.answers if sent > restarted + back]
    assert after and all(body["lines"][0]["reason"] == expected_reason(i) for i, body in after)
    assert all("stale" not in body["lines"][0]["flags"] for _, body in after)
    latencies = sorted(lat for lat, _, _ in during)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"\noutage: {len(during)} requests, p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms; answers again {back:.2f} s after restart")


def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.mark.parametrize("policy", ["fail_open", "fail_closed"])
def test_redis_restarted_empty_gives_unverified_never_unknown_physician(
    own_redis: RedisServer, published: Keys, sqlite_store: Store, profile: Profile, tmp_path: Path, policy: str
) -> None:
    """A restart that lost the data must not read as "every physician unknown"."""
    from fastapi.testclient import TestClient

    settings = Settings(redis_url=own_redis.url, redis_prefix="drgate-outage", store_url=sqlite_store.url,
                        var_dir=str(tmp_path / "var"), poll_interval=0.1, on_unverified=policy,  # type: ignore[arg-type]
                        preload=False)  # records not read yet are "cold", as past DRGATE_CACHE_SIZE
    with TestClient(create_app(settings)) as client:
        state = client.app.state.gateway  # type: ignore[attr-defined]
        wait_until(lambda: state.cache.redis_ok and state.cache.snapshot is not None)
        assert client.post("/v1/claims/check", json=claim(1)).json()["lines"][0]["reason"] == expected_reason(1)
        own_redis.kill()
        for f in (own_redis.workdir / "appendonlydir").iterdir():
            f.unlink()
        own_redis.start()  # empty
        wait_until(lambda: not state.cache.redis_ok)
        held = client.post("/v1/claims/check", json=claim(1)).json()["lines"][0]
        assert (held["reason"], held["flags"]) == (expected_reason(1), ["stale"])
        cold = client.post("/v1/claims/check", json=claim(400)).json()["lines"][0]
        assert cold["reason"] == "unverified"
        assert cold["decision"] == ("pass" if policy == "fail_open" else "reject")
        assert client.get("/readyz").status_code == 200  # still answering: stay in the balancer
        client_redis = redis.Redis.from_url(own_redis.url)
        Syncer(client_redis, published, sqlite_store, profile).full()  # the cron's next run
        client_redis.close()
        wait_until(lambda: state.cache.redis_ok)
        fresh = client.post("/v1/claims/check", json=claim(400)).json()["lines"][0]
        assert fresh["reason"] == expected_reason(400) and "stale" not in fresh["flags"]


def test_in_process_checker_rides_out_an_outage_and_comes_back_for_good(
    own_redis: RedisServer, published: Keys, sqlite_store: Store, tmp_path: Path
) -> None:
    """The blocking reader of ``Checker``: held records answer `stale`, the rest `unverified`, and once
    Redis is back every read succeeds, with no relapse from a connection pooled before the kill."""
    from gateway.checker import Checker

    settings = Settings(redis_url=own_redis.url, redis_prefix="drgate-outage", store_url=sqlite_store.url,
                        var_dir=str(tmp_path / "var"), poll_interval=0.1, on_unverified="fail_open")
    checker = Checker.connect(settings)
    cache = checker.reader.cache
    try:
        wait_until(lambda: cache.redis_ok and cache.snapshot is not None)
        for i in range(0, 40):  # several pooled connections, as a threaded service opens them
            assert checker.check(claim(i)).lines[0].reason == expected_reason(i)
        own_redis.kill()
        wait_until(lambda: not cache.redis_ok)
        held = checker.check(claim(1)).lines[0]
        assert (held.reason, held.flags) == (expected_reason(1), ["stale"])
        assert checker.check(claim(400)).lines[0].reason == "unverified"
        own_redis.start()
        wait_until(lambda: cache.redis_ok)
        for i in range(300, 360):
            line = checker.check(claim(i)).lines[0]
            assert (line.reason, line.flags) == (expected_reason(i), []), i
        assert cache.redis_ok
    finally:
        checker.close()
