"""A full sync adds records to Redis in chunks while the store streams: same snapshot, bounded memory."""

from __future__ import annotations

import pytest
import redis

from cache import sync as sync_module
from cache.errors import ShrinkRefused
from cache.keys import Keys
from cache.sync import Syncer, read_meta
from rules.profiles import Profile
from rules.seed import seed
from rules.store import Store


def _snapshot(client: redis.Redis, keys: Keys) -> dict[str, object]:
    """Every hash of the published generation, by its name without prefix and generation."""
    meta = read_meta(client, keys)
    names = keys.generation_keys(int(meta["generation"]), int(meta["buckets"]))
    return {name.split(":", 2)[2]: client.hgetall(name) for name in names}


def test_chunked_full_sync_publishes_the_same_snapshot(store: Store, redis: redis.Redis, keys: Keys,
                                                       profile: Profile, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(store, 700)
    whole = Keys(keys.tag.strip("{}") + "-whole")
    try:
        Syncer(redis, whole, store, profile).full()
        monkeypatch.setattr(sync_module, "FULL_SYNC_CHUNK", 7)
        result = Syncer(redis, keys, store, profile).full()
        assert result.physicians == 700
        assert _snapshot(redis, keys) == _snapshot(redis, whole)
    finally:
        for key in redis.scan_iter(match=f"{whole.tag}*", count=1000):
            redis.unlink(key)


def test_refused_shrink_leaves_no_generation_behind(sqlite_store: Store, redis: redis.Redis, keys: Keys,
                                                    profile: Profile, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_module, "FULL_SYNC_CHUNK", 50)
    seed(sqlite_store, 400)
    syncer = Syncer(redis, keys, sqlite_store, profile)
    syncer.full()
    before = set(redis.scan_iter(match=f"{keys.tag}*"))
    seed(sqlite_store, 200)
    with pytest.raises(ShrinkRefused):
        syncer.full()
    assert set(redis.scan_iter(match=f"{keys.tag}*")) == before
    assert list(redis.hgetall(keys.gens)) == [read_meta(redis, keys)["generation"].encode()]
