"""Nothing lost on the way: a worker's unwritten entries survive its SIGKILL; the Checker logs too."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis

from cache.keys import Keys
from cache.sync import Syncer
from gateway.checker import Checker
from gateway.decisionlog.spool import Spool
from gateway.settings import Settings
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.seed import home_institution, institution_code, physician_code, seed
from tests.fault_servers import Gateway, RedisServer

PREFIX = "drgate-spool"


def claim(n: int) -> dict[str, Any]:
    return {"claim_id": f"C-{n}", "institution_code": institution_code(home_institution(n % 200)),
            "service_date": "2026-03-02", "lines": [{"line_id": "1", "physician_code": physician_code(n % 200)}]}


def logged_ids(url: str, keys: Keys) -> list[str]:
    client = redis.Redis.from_url(url)
    try:
        return [orjson.loads(f[b"d"])["id"] for _, f in client.xrange(keys.decisions)]
    finally:
        client.close()


def test_a_spool_held_by_a_live_worker_is_left_alone(tmp_path: Path) -> None:
    live, dead = Spool(tmp_path), tmp_path / "decisions-1-dead.spool"
    dead.write_bytes(b'{"id":"a"}\n{"id":"b"}\n{"id":"c"')  # the last write torn by a machine crash
    newcomer = Spool(tmp_path)
    live.write([b'{"id":"x"}'])
    assert newcomer.recover() == [b'{"id":"a"}', b'{"id":"b"}']  # the dead worker's, whole entries only
    assert not dead.exists() and live.path.exists()
    fd = os.open(live.path, os.O_RDWR)
    with pytest.raises(BlockingIOError):  # still its owner's
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd)
    newcomer.clear()
    newcomer.close()
    assert not newcomer.path.exists()  # an empty spool leaves nothing behind
    live.close()


@pytest.mark.slow
def test_a_worker_killed_during_a_redis_outage_loses_no_entry(tmp_path: Path, sqlite_store: Store,
                                                              profile: Profile) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    keys = Keys(PREFIX)
    seed(sqlite_store, 200)
    client = redis.Redis.from_url(server.url)
    Syncer(client, keys, sqlite_store, profile).full()
    client.close()
    env = {"DRGATE_REDIS_URL": server.url, "DRGATE_REDIS_PREFIX": PREFIX, "DRGATE_STORE_URL": sqlite_store.url,
           "DRGATE_VAR_DIR": str(tmp_path / "var")}
    gateway = Gateway(env)
    answered: list[str] = []
    try:
        with httpx.Client(base_url=gateway.url, timeout=5) as http:
            for i in range(50):
                answered.append(http.post("/v1/claims/check", json=claim(i)).json()["decision_id"])
            time.sleep(0.5)  # written
            server.kill()
            for i in range(50, 350):  # answered from the snapshot held, logged nowhere but the worker
                answered.append(http.post("/v1/claims/check", json=claim(i)).json()["decision_id"])
            time.sleep(1.0)  # the writer has failed at least once since the last answer
        gateway.process.kill()  # SIGKILL: no shutdown, no flush
        gateway.process.wait(timeout=10)
        gateway.log.close()
        server.start()
        gateway = Gateway(env)  # the next worker replays the spool
        deadline = time.monotonic() + 30
        while not set(answered) <= set(logged_ids(server.url, keys)) and time.monotonic() < deadline:
            time.sleep(0.1)
        gateway.stop()
        logged = set(logged_ids(server.url, keys))
    finally:
        gateway.stop()
        server.stop()
    assert set(answered) - logged == set()
    assert not list((tmp_path / "var" / "spool").glob("*.spool"))  # written, and left no spool behind


def test_the_in_process_checker_logs_every_decision(settings: Settings, redis: redis.Redis, keys: Keys,
                                                    profile: Profile) -> None:
    store = Store(settings.store_url_value())
    seed(store, 200)
    Syncer(redis, keys, store, profile).full()
    store.dispose()
    checker = Checker.connect(settings)
    try:
        ids = [checker.check(claim(i)).decision_id for i in range(40)]
    finally:
        checker.close()  # writes what waits
    entries = [orjson.loads(f[b"d"]) for _, f in redis.xrange(keys.decisions)]
    assert [e["id"] for e in entries] == ids
    assert {e["front"] for e in entries} == {"inprocess"}
    assert entries[0]["lines"][0][1] == physician_code(0)


def test_the_in_process_checker_spools_through_an_outage_for_its_next_start(tmp_path: Path, settings: Settings,
                                                                             profile: Profile) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()
    keys = Keys(PREFIX)
    store = Store(settings.store_url_value())
    seed(store, 200)
    client = redis.Redis.from_url(server.url)
    Syncer(client, keys, store, profile).full()
    store.dispose()
    own = Settings(**{**settings.model_dump(), "redis_prefix": PREFIX, "redis_url": server.url,
                      "store_url": settings.store_url_value()})
    try:
        checker = Checker.connect(own)
        server.kill()
        ids = [checker.check(claim(i)).decision_id for i in range(30)]
        checker.close()  # Redis is down: spooled
        server.start()
        Checker.connect(own).close()  # the next start writes them
        assert [orjson.loads(f[b"d"])["id"] for _, f in client.xrange(keys.decisions)] == ids
    finally:
        client.close()
        server.stop()
