"""A full sync the shrink guard refuses leaves nothing of the generation it began."""

from __future__ import annotations

import pytest
import redis

from cache.errors import ShrinkRefused
from cache.keys import Keys
from cache.meta import read_meta
from cache.sync import Syncer
from rules.profiles import Profile
from rules.store.scans import Store
from rules.store.seed import seed


def test_refused_shrink_leaves_no_generation_behind(sqlite_store: Store, redis: redis.Redis, keys: Keys,
                                                    profile: Profile) -> None:
    seed(sqlite_store, 400)
    syncer = Syncer(redis, keys, sqlite_store, profile)
    syncer.full()
    before = set(redis.scan_iter(match=f"{keys.tag}*"))
    seed(sqlite_store, 200)
    with pytest.raises(ShrinkRefused):
        syncer.full()
    assert set(redis.scan_iter(match=f"{keys.tag}*")) == before
    assert list(redis.hgetall(keys.gens)) == [read_meta(redis, keys)["generation"].encode()]
