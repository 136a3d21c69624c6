"""A full sync SIGKILLed at 20 random points: readers never see a partial or mixed snapshot."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time
from pathlib import Path

import pytest
import redis

from cache.codec import encode_physician
from cache.keys import OVERFLOW, Keys
from cache.meta import read_meta
from cache.snapshot_cache import SnapshotCache
from cache.sync import Syncer
from rules.engine import physician_record
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.seed import physician_code, seed
from tests.fault_servers import run_cli

N = 20_000  # a few tenths of a second of sync: room for kills at every stage
KILLS = 20
FORKS = multiprocessing.get_context("forkserver")  # single-threaded parent of the syncs
FORKS.set_forkserver_preload(["gateway.cli.commands", "tests.fault_servers"])
PROBES = [physician_code(i) for i in (0, 1, 7, N // 2, N - 1)]


def sync_process(env: dict[str, str]) -> multiprocessing.process.BaseProcess:
    """`drgate sync --full` in a child forked from a warm server: no interpreter start to wait for."""
    proc = FORKS.Process(target=run_cli, args=(["sync", "--full", "--wait", "30"], env), daemon=True)
    proc.start()
    return proc


def wait_for_build(client: redis.Redis, keys: Keys) -> float:
    """Monotonic time at which a generation is seen building."""
    deadline = time.monotonic() + 60
    while not any(b'"building"' in s for s in client.hvals(keys.gens)):
        assert time.monotonic() < deadline, "no sync started building"
        time.sleep(0.002)
    return time.monotonic()


class ConsistencyReader(threading.Thread):
    """Reads as a gateway does, continuously, and records anything that is not one whole snapshot."""

    def __init__(self, url: str, keys: Keys, expected: dict[str, bytes]) -> None:
        super().__init__(daemon=True)
        self.client = redis.Redis.from_url(url)
        self.keys = keys
        self.expected = expected
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.reads = 0

    def run(self) -> None:
        cache = SnapshotCache(self.keys)
        while not self.stop.is_set():
            meta = self.client.hgetall(self.keys.meta)
            snap = cache.build(meta, {})
            present = self.client.exists(*snap.bucket_keys)
            if present != len(snap.bucket_keys):
                self.problems.append(f"generation {snap.generation}: {present}/{len(snap.bucket_keys)} buckets")
            if snap.physicians != N:
                self.problems.append(f"generation {snap.generation} claims {snap.physicians} physicians")
            with self.client.pipeline(transaction=False) as pipe:
                for code in self.expected:
                    pipe.hget(snap.bucket_key(code), code)
                    pipe.hget(snap.overflow_key, code)
                pipe.hlen(self.keys.institutions(snap.generation))
                *raws, institutions = pipe.execute()
            for (code, want), raw, long in zip(self.expected.items(), raws[::2], raws[1::2], strict=True):
                if (long if raw == OVERFLOW else raw) != want:
                    self.problems.append(f"generation {snap.generation}: {code} read {raw!r}")
            if institutions == 0:
                self.problems.append(f"generation {snap.generation}: no institutions")
            self.reads += 1
        self.client.close()


@pytest.mark.slow
def test_killed_full_syncs_never_show_a_partial_snapshot(
    redis_url: str, redis: redis.Redis, keys: Keys, prefix: str, sqlite_store: Store, profile: Profile,
    tmp_path: Path,
) -> None:
    seed(sqlite_store, N)
    syncer = Syncer(redis, keys, sqlite_store, profile)
    first = syncer.full()
    expected: dict[str, bytes] = {}
    for facts in sqlite_store.physician_facts(PROBES):
        expected[facts.code] = encode_physician(physician_record(profile, facts))
    assert set(expected) == set(PROBES)

    env = {"DRGATE_REDIS_URL": redis_url, "DRGATE_REDIS_PREFIX": prefix,
           "DRGATE_STORE_URL": sqlite_store.url, "DRGATE_SYNC_LOCK_TTL": "0.5", "DRGATE_GRACE_SECONDS": "120"}
    started = time.monotonic()
    proc = sync_process(env)
    building_from = wait_for_build(redis, keys)
    proc.join(timeout=120)
    assert proc.exitcode == 0
    whole_run = time.monotonic() - started  # interpreter start included: kills land at every stage
    build_window = time.monotonic() - building_from  # writing the generation, the flip, the cleanup

    reader = ConsistencyReader(redis_url, keys, expected)
    reader.start()
    rng = random.Random(20140501)
    killed_while_building = 0
    try:
        for kill in range(KILLS):
            proc = sync_process(env)
            if kill % 2:  # anywhere in the run
                time.sleep(rng.uniform(0.0, whole_run))
            else:  # inside the short window where keys are written and flipped
                wait_for_build(redis, keys)
                time.sleep(rng.uniform(0.0, build_window))
            proc.kill()  # SIGKILL
            proc.join(timeout=60)
            killed_while_building += any(b'"building"' in s for s in redis.hvals(keys.gens))
            while redis.exists(keys.lock):  # the killed holder's lock expires by itself
                time.sleep(0.05)
        proc = sync_process(env)
        proc.join(timeout=120)
        assert proc.exitcode == 0
    finally:
        reader.stop.set()
        reader.join(timeout=10)

    assert reader.problems == []
    assert reader.reads > 0
    print(f"{killed_while_building} of {KILLS} kills left a build behind")
    assert killed_while_building >= KILLS // 4  # the kills did land inside builds
    meta = read_meta(redis, keys)
    live = int(meta["generation"])
    assert live > first.generation
    left = set()
    for key in redis.scan_iter(match=f"{keys.tag}:g[0-9]*", count=1000):
        left.add(int(key.decode().split(":")[1][1:]))
    assert live in left
    assert len(left - {live}) <= 1  # at most one old snapshot's keys
    assert len(redis.hkeys(keys.gens)) <= 2
    for key in redis.scan_iter(match=f"{keys.tag}:g{live}:*", count=1000):
        assert redis.ttl(key) == -1
