"""The sync: atomic full publication, incremental publication, lock and shrink guard, on real Redis."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest
import redis

from cache.codec import decode_physician
from cache.errors import ShrinkRefused, SyncLocked
from cache.keys import OVERFLOW, Keys, bucket_of
from cache.meta import read_meta
from cache.sync import Syncer
from gateway.cli.exits import EXIT_SHRINK, sync_exit_code
from rules.profiles import Profile
from rules.store.importer import import_files
from rules.store.scans import Store

INST = {"kind": "institution", "code": "H33080200001", "name": "衢州市人民医院", "region": "330802"}
CODES = [f"D3308020{i:05d}" for i in range(60)]


def registry(end: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [INST]
    for code in CODES:
        rows.append({"kind": "physician", "code": code, "name": "医师"})
        rows.append({"kind": "agreement", "physician_code": code, "institution_code": INST["code"],
                     "start": "2021-01-01", "end": end})
    return rows


def read_record(client: redis.Redis, keys: Keys, code: str) -> Any:
    meta = read_meta(client, keys)
    generation = int(meta["generation"])
    raw = client.hget(keys.bucket(generation, bucket_of(code, int(meta["buckets"]))), code)
    if raw == OVERFLOW:  # a long record lives in the overflow hash
        raw = client.hget(keys.overflow(generation), code)
    return None if raw is None else decode_physician(code, raw)  # type: ignore[arg-type]


def test_full_sync_publishes_every_physician(syncer: Syncer, store: Store, profile: Profile, write_jsonl: Any,
                                             redis: redis.Redis, keys: Keys) -> None:
    import_files(store, profile, [write_jsonl(registry(None))])
    result = syncer.full()
    assert (result.physicians, result.institutions, result.version) == (60, 1, 1)
    record = read_record(redis, keys, CODES[7])
    assert record.agreements[0].institution == INST["code"]
    assert read_meta(redis, keys)["profile"] == "quzhou-2020"


def test_every_full_sync_is_a_new_version_and_the_old_generation_expires(
        syncer: Syncer, store: Store, profile: Profile, write_jsonl: Any, redis: redis.Redis, keys: Keys) -> None:
    import_files(store, profile, [write_jsonl(registry(None))])
    first = syncer.full()
    second = syncer.full()
    assert second.version == first.version + 1
    assert second.generation != first.generation
    old_bucket = keys.bucket(first.generation, bucket_of(CODES[0], int(read_meta(redis, keys)["buckets"])))
    assert 0 < redis.ttl(old_bucket) <= syncer.grace_seconds


def test_readers_see_the_old_or_the_new_snapshot_never_a_mix_nor_nothing(
        syncer: Syncer, store: Store, profile: Profile, write_jsonl: Any, redis: redis.Redis, keys: Keys) -> None:
    ends = ["2030-01-01", "2031-01-01"]
    files = [write_jsonl(registry(end)) for end in ends]
    import_files(store, profile, [files[0]])
    syncer.full()
    stop = threading.Event()
    seen: list[set[int]] = []

    def read_loop() -> None:
        while not stop.is_set():
            meta = read_meta(redis, keys)
            gen, buckets = int(meta["generation"]), int(meta["buckets"])
            pipe = redis.pipeline(transaction=False)
            for code in CODES:
                pipe.hget(keys.bucket(gen, bucket_of(code, buckets)), code)
            raws = pipe.execute()
            ends = {decode_physician(c, r).agreements[0].end if r else -1 for c, r in zip(CODES, raws, strict=True)}
            seen.append(ends)

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        for i in range(12):
            import_files(store, profile, [files[(i + 1) % 2]])
            syncer.full()
    finally:
        stop.set()
        reader.join()
    assert seen
    assert all(len(s) == 1 and -1 not in s for s in seen), [s for s in seen if len(s) != 1 or -1 in s][:3]


def test_incremental_sync_publishes_only_what_changed(syncer: Syncer, store: Store, profile: Profile,
                                                      write_jsonl: Any, redis: redis.Redis, keys: Keys) -> None:
    import_files(store, profile, [write_jsonl(registry(None))])
    full = syncer.full()
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.events)
    import_files(store, profile, [write_jsonl([
        {"kind": "sanction", "id": "S-1", "physician_code": CODES[3], "action": "suspend",
         "start": "2026-01-01", "end": None, "basis": "衢医保〔2026〕1号"}])])
    result = syncer.incremental()
    assert (result.mode, result.changed, result.generation, result.version) == (
        "incremental", 1, full.generation, full.version + 1)
    assert read_record(redis, keys, CODES[3]).sanctions[0].action == "suspend"
    message = None
    for _ in range(50):
        message = pubsub.get_message(timeout=0.1)
        if message:
            break
    assert message is not None
    assert orjson.loads(message["data"])["p"] == [CODES[3]]
    pubsub.close()


def test_incremental_sync_with_nothing_changed_publishes_nothing(syncer: Syncer, store: Store, profile: Profile,
                                                                 write_jsonl: Any) -> None:
    import_files(store, profile, [write_jsonl(registry(None))])
    full = syncer.full()
    assert syncer.incremental().version == full.version


def test_incremental_sync_without_a_snapshot_runs_a_full_one(syncer: Syncer, store: Store, profile: Profile,
                                                             write_jsonl: Any) -> None:
    import_files(store, profile, [write_jsonl(registry(None))])
    assert syncer.incremental().mode == "full"


def test_dry_run_publishes_nothing(syncer: Syncer, store: Store, profile: Profile, write_jsonl: Any,
                                   redis: redis.Redis, keys: Keys) -> None:
    import_files(store, profile, [write_jsonl(registry(None))])
    assert syncer.full(dry_run=True).physicians == 60
    assert read_meta(redis, keys) == {}


def test_second_sync_is_refused_while_the_lock_is_held(syncer: Syncer, redis: redis.Redis, keys: Keys,
                                                       store: Store, profile: Profile) -> None:
    other = Syncer(redis, keys, store, profile)
    with syncer.lock(), pytest.raises(SyncLocked), other.lock():
        pass
    with other.lock():  # released
        pass


def test_shrink_guard_refuses_a_much_smaller_snapshot(syncer: Syncer, store: Store, profile: Profile,
                                                      write_jsonl: Any, redis: redis.Redis, keys: Keys,
                                                      tmp_path: Any) -> None:
    import_files(store, profile, [write_jsonl(registry(None))])
    before = syncer.full()
    empty = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    empty.init()
    truncated = Syncer(redis, keys, empty, profile)
    with pytest.raises(ShrinkRefused) as err:
        truncated.full()
    assert sync_exit_code(err.value) == EXIT_SHRINK
    assert int(read_meta(redis, keys)["version"]) == before.version
    assert truncated.full(allow_shrink=True).physicians == 0
    empty.dispose()
