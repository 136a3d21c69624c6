"""`drgate sync` without --full: only what changed since the watermark; gateways drop exactly those."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis

from cache.blocking_reader import SnapshotReader
from cache.keys import Keys
from cache.meta import read_meta
from cache.snapshot_cache import SnapshotCache
from cache.sync import Syncer
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store
from rules.store.seed import physician_code, seed

A, B, C = physician_code(1), physician_code(2), physician_code(3)


@pytest.fixture(name="seeded")
def fix_seeded(store: Store) -> Store:
    seed(store, 100)
    return store


@pytest.fixture(name="reader")
def fix_reader(redis: redis.Redis, keys: Keys) -> Iterator[SnapshotReader]:
    reader = SnapshotReader(redis, SnapshotCache(keys, capacity=1000), poll_interval=0.05)
    yield reader
    reader.stop()


def suspend(write_jsonl: Any, store: Store, profile: Profile, code: str) -> None:
    import_files(store, profile, [write_jsonl([
        {"kind": "sanction", "id": f"S-{code}", "physician_code": code, "action": "suspend",
         "start": "2026-01-01", "end": None, "basis": "test"}])])


def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_incremental_sync_publishes_only_the_changed_physicians(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile, write_jsonl: Any
) -> None:
    syncer = Syncer(redis, keys, seeded, profile)
    full = syncer.full()
    suspend(write_jsonl, seeded, profile, A)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.events)
    result = syncer.incremental()
    assert (result.mode, result.changed, result.generation, result.version) == (
        "incremental", 1, full.generation, full.version + 1)
    message = None
    while message is None:
        message = pubsub.get_message(timeout=5)
    pubsub.close()
    meta = read_meta(redis, keys)
    assert orjson.loads(message["data"]) == {"v": full.version + 1, "g": full.generation, "id": meta["id"],
                                             "prev": meta["generation_id"], "p": [A], "i": []}
    assert read_meta(redis, keys)["watermark"] == str(result.watermark)


def test_incremental_sync_with_nothing_changed_publishes_nothing(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile
) -> None:
    syncer = Syncer(redis, keys, seeded, profile)
    syncer.full()
    before = read_meta(redis, keys)
    result = syncer.incremental()
    assert result.changed == 0
    after = read_meta(redis, keys)  # the same publication, verified current (tests/test_snapshot_freshness.py)
    assert {k: v for k, v in after.items() if not k.startswith("verified_")} == {
        k: v for k, v in before.items() if not k.startswith("verified_")}


def test_gateway_drops_exactly_the_changed_physicians(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile, write_jsonl: Any, reader: SnapshotReader
) -> None:
    syncer = Syncer(redis, keys, seeded, profile)
    syncer.full()
    reader.start()
    before = reader.get_many([A, B, C])
    assert set(reader.cache.records) == {A, B, C}
    suspend(write_jsonl, seeded, profile, A)
    version = syncer.incremental().version
    wait_until(lambda: reader.cache.snapshot is not None and reader.cache.snapshot.version == version)
    assert set(reader.cache.records) == {B, C}  # B and C kept: still valid
    after = reader.get_many([A])[A]
    assert after != before[A]
    assert any(s.action == "suspend" for s in after.sanctions)


def test_a_full_sync_drops_every_held_record(
    redis: redis.Redis, keys: Keys, seeded: Store, profile: Profile, reader: SnapshotReader
) -> None:
    syncer = Syncer(redis, keys, seeded, profile)
    syncer.full()
    reader.start()
    reader.get_many([A, B])
    generation = syncer.full().generation
    wait_until(lambda: reader.cache.snapshot is not None and reader.cache.snapshot.generation == generation)
    assert reader.cache.records == {}
